#include "lexical/postings.hpp"

#include <fmt/format.h>
#include <xxhash.h>

#include <algorithm>
#include <map>
#include <optional>

#include "rk/error.hpp"

namespace rk::lexical {

namespace {

// A segment's level is its size in entries on a base-4 scale; four segments of one level are
// merged into one of the next, so that there are O(log n) segments and every entry is
// rewritten O(log n) times.
constexpr std::int64_t kLevelBase = 16384;
constexpr std::size_t kSegmentsPerLevel = 4;
// Past this share of dead chunks, the next write merges everything to drop them.
constexpr double kDeadShare = 0.2;
// rebuild_postings() writes a segment per this many chunks, to bound its memory.
constexpr std::size_t kRebuildChunks = 50000;

int level_of(std::int64_t entries) {
    int level = 0;
    for (std::int64_t size = kLevelBase; entries >= size && level < 30; size *= 4) ++level;
    return level;
}

void put_varint(std::string& out, std::uint64_t v) {
    while (v >= 0x80) {
        out += static_cast<char>((v & 0x7F) | 0x80);
        v >>= 7;
    }
    out += static_cast<char>(v);
}

std::uint64_t get_varint(std::string_view bytes, std::size_t& pos) {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (pos >= bytes.size()) throw IndexError("truncated posting list");
        const auto b = static_cast<unsigned char>(bytes[pos++]);
        v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
        if ((b & 0x80) == 0) return v;
    }
    throw IndexError("malformed posting list");
}

std::uint32_t to_u32(std::uint64_t v) {
    if (v > 0xFFFFFFFFU) throw IndexError("malformed posting list");
    return static_cast<std::uint32_t>(v);
}

std::int64_t next_segment_id(store::Database& db) {
    return db.query_int(
                 "SELECT max(coalesce((SELECT max(seg) FROM lex_segments), 0), "
                 "coalesce((SELECT max(seg) FROM lex_dead), 0))")
               .value_or(0) +
           1;
}

void write_postings(store::Statement& insert, std::int64_t seg, const std::string& term,
                    const std::vector<Posting>& postings) {
    insert.bind(1, seg)
        .bind(2, term)
        .bind(3, static_cast<std::int64_t>(postings.size()))
        .bind_blob(4, encode_postings(postings))
        .run();
}

void add_segment(store::Database& db, std::int64_t seg, std::int64_t entries) {
    auto st = db.prepare("INSERT INTO lex_segments(seg, level, entries) VALUES(?, ?, ?)");
    st.bind(1, seg).bind(2, level_of(entries)).bind(3, entries).run();
}

std::unordered_map<std::int64_t, std::int64_t> load_dead(store::Database& db) {
    std::unordered_map<std::int64_t, std::int64_t> dead;
    auto& st = db.cached("SELECT chunk, seg FROM lex_dead");
    while (st.step()) dead.emplace(st.int64(0), st.int64(1));
    st.reset();
    return dead;
}

bool is_dead(const std::unordered_map<std::int64_t, std::int64_t>& dead, std::int64_t chunk,
             std::int64_t seg) {
    if (dead.empty()) return false;
    const auto it = dead.find(chunk);
    return it != dead.end() && seg < it->second;
}

}  // namespace

ChunkTerms TermCounter::count(std::string_view title, std::string_view heading,
                              std::string_view body) {
    ChunkTerms out;
    if (slots_.empty()) slots_.resize(1024);
    std::fill(slots_.begin(), slots_.end(), 0U);
    const std::array<std::string_view, kFields> fields{title, heading, body};
    for (std::size_t f = 0; f < kFields; ++f) {
        tokenizer_.tokenize(fields[f], text::Tokenizer::Purpose::document,
                            [&](std::string_view token) {
                                ++out.length;
                                const std::size_t mask = slots_.size() - 1;
                                std::size_t at = XXH3_64bits(token.data(), token.size()) & mask;
                                for (;; at = (at + 1) & mask) {
                                    const std::uint32_t slot = slots_[at];
                                    if (slot == 0) break;
                                    if (out.terms[slot - 1].term == token) {
                                        ++out.terms[slot - 1].tf[f];
                                        return;
                                    }
                                }
                                out.terms.push_back({std::string(token), {}});
                                out.terms.back().tf[f] = 1;
                                slots_[at] = static_cast<std::uint32_t>(out.terms.size());
                                if (out.terms.size() * 2 > slots_.size()) grow(out);
                            });
    }
    return out;
}

void TermCounter::grow(const ChunkTerms& out) {
    slots_.assign(slots_.size() * 2, 0U);
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = 0; i < out.terms.size(); ++i) {
        const auto& term = out.terms[i].term;
        std::size_t at = XXH3_64bits(term.data(), term.size()) & mask;
        while (slots_[at] != 0) at = (at + 1) & mask;
        slots_[at] = static_cast<std::uint32_t>(i + 1);
    }
}

void append_posting(std::string& out, std::int64_t& last, const Posting& p) {
    if (p.chunk <= last) throw IndexError("posting list out of order");
    // The gap and a mask of the fields that hold the term share one varint; absent fields
    // (most often title and heading) cost nothing.
    unsigned mask = 0;
    for (std::size_t f = 0; f < kFields; ++f) mask |= (p.tf[f] != 0 ? 1U : 0U) << f;
    put_varint(out, (static_cast<std::uint64_t>(p.chunk - last) << kFields) | mask);
    for (std::size_t f = 0; f < kFields; ++f) {
        if (p.tf[f] != 0) put_varint(out, p.tf[f]);
    }
    put_varint(out, p.length);
    last = p.chunk;
}

std::string encode_postings(const std::vector<Posting>& postings) {
    std::string out;
    out.reserve(postings.size() * 6);
    std::int64_t last = 0;
    for (const auto& p : postings) append_posting(out, last, p);
    return out;
}

void decode_postings(std::string_view bytes, std::vector<Posting>& out) {
    std::size_t pos = 0;
    std::uint64_t chunk = 0;
    while (pos < bytes.size()) {
        const std::uint64_t head = get_varint(bytes, pos);
        const std::uint64_t gap = head >> kFields;
        if (gap == 0 || gap > (std::uint64_t{1} << 62) - chunk) {
            throw IndexError("malformed posting list");
        }
        chunk += gap;
        Posting p;
        p.chunk = static_cast<std::int64_t>(chunk);
        for (std::size_t f = 0; f < kFields; ++f) {
            if ((head & (1U << f)) != 0) p.tf[f] = to_u32(get_varint(bytes, pos));
        }
        p.length = to_u32(get_varint(bytes, pos));
        out.push_back(p);
    }
}

CorpusStats read_corpus_stats(store::Database& db) {
    CorpusStats s;
    auto& st = db.cached("SELECT key, value FROM lex_stats");
    while (st.step()) {
        if (st.text(0) == "chunks") s.chunks = st.int64(1);
        if (st.text(0) == "length") s.length = st.int64(1);
    }
    st.reset();
    return s;
}

// ---- writing -------------------------------------------------------------------------------

PostingWriter::PostingWriter(store::Database& db)
    : db_(db),
      seg_(next_segment_id(db)),
      doc_chunks_(db, "SELECT id, lex_len FROM chunks WHERE doc = ?"),
      mark_dead_(db,
                 "INSERT INTO lex_dead(chunk, seg) VALUES(?1, ?2) "
                 "ON CONFLICT(chunk) DO UPDATE SET seg = max(seg, excluded.seg)") {}

void PostingWriter::add(std::int64_t chunk, ChunkTerms terms) {
    ++delta_.chunks;
    delta_.length += terms.length;
    if (const auto it = pending_at_.find(chunk); it != pending_at_.end()) {
        pending_[it->second].first = 0;
    }
    pending_at_[chunk] = pending_.size();
    pending_.emplace_back(chunk, std::move(terms));
}

void PostingWriter::remove_document(std::int64_t doc) {
    doc_chunks_.bind(1, doc);
    std::vector<std::int64_t> chunks;
    while (doc_chunks_.step()) {
        chunks.push_back(doc_chunks_.int64(0));
        --delta_.chunks;
        delta_.length -= doc_chunks_.int64(1);
    }
    doc_chunks_.reset();
    for (const auto c : chunks) {
        if (const auto it = pending_at_.find(c); it != pending_at_.end()) {
            pending_[it->second].first = 0;
            pending_at_.erase(it);
        }
        mark_dead_.bind(1, c).bind(2, seg_).run();
    }
}

void PostingWriter::finish() {
    if (!pending_.empty()) write_segment();
    if (delta_.chunks != 0 || delta_.length != 0) {
        auto st = db_.prepare(
            "INSERT INTO lex_stats(key, value) VALUES(?1, ?2) "
            "ON CONFLICT(key) DO UPDATE SET value = value + excluded.value");
        st.bind(1, "chunks").bind(2, delta_.chunks).run();
        st.bind(1, "length").bind(2, delta_.length).run();
    }
    delta_ = {};
    merge_if_needed();
    seg_ = next_segment_id(db_);
}

void PostingWriter::write_segment() {
    std::erase_if(pending_, [](const auto& c) { return c.first == 0; });
    std::sort(pending_.begin(), pending_.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    // Lists are encoded as chunks arrive in id order; terms are views of the pending chunks'
    // strings, which outlive this function's maps.
    struct List {
        std::string bytes;
        std::int64_t last = 0, entries = 0;
    };
    std::unordered_map<std::string_view, std::uint32_t> where;
    std::vector<List> lists;
    std::vector<std::string_view> terms;
    std::int64_t entries = 0;
    for (const auto& [id, chunk] : pending_) {
        for (const auto& t : chunk.terms) {
            const auto [it, fresh] =
                where.try_emplace(t.term, static_cast<std::uint32_t>(lists.size()));
            if (fresh) {
                lists.emplace_back();
                terms.emplace_back(t.term);
            }
            List& list = lists[it->second];
            append_posting(list.bytes, list.last, {id, t.tf, chunk.length});
            ++list.entries;
            ++entries;
        }
    }
    std::vector<std::uint32_t> order(lists.size());
    for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](std::uint32_t a, std::uint32_t b) { return terms[a] < terms[b]; });
    auto insert = db_.prepare("INSERT INTO lex_postings(seg, term, df, data) VALUES(?, ?, ?, ?)");
    for (const auto i : order) {
        insert.bind(1, seg_)
            .bind(2, terms[i])
            .bind(3, lists[i].entries)
            .bind_blob(4, lists[i].bytes)
            .run();
    }
    add_segment(db_, seg_, entries);
    pending_.clear();
    pending_at_.clear();
}

void PostingWriter::merge_if_needed() {
    const auto live = std::max<std::int64_t>(read_corpus_stats(db_).chunks, 1);
    const auto dead = db_.query_int("SELECT count(*) FROM lex_dead").value_or(0);
    const auto segments = db_.query_int("SELECT count(*) FROM lex_segments").value_or(0);
    if (segments > 0 && static_cast<double>(dead) > kDeadShare * static_cast<double>(live)) {
        optimize_postings(db_);
        return;
    }
    for (;;) {
        std::map<std::int64_t, std::vector<std::int64_t>> levels;
        auto st = db_.prepare("SELECT seg, level FROM lex_segments ORDER BY seg");
        while (st.step()) levels[st.int64(1)].push_back(st.int64(0));
        const auto full = std::find_if(levels.begin(), levels.end(), [](const auto& l) {
            return l.second.size() >= kSegmentsPerLevel;
        });
        if (full == levels.end()) return;
        merge_segments(db_, full->second);
    }
}

namespace {

// One segment's rows in term order, for the k-way merge.
struct Cursor {
    std::int64_t seg;
    store::Statement st;
    bool valid = false;
};

}  // namespace

void merge_segments(store::Database& db, const std::vector<std::int64_t>& segments) {
    const auto dead = load_dead(db);
    const std::int64_t target = next_segment_id(db);
    std::vector<Cursor> cursors;
    cursors.reserve(segments.size());
    for (const auto seg : segments) {
        Cursor c{seg,
                 db.prepare("SELECT term, data FROM lex_postings WHERE seg = ? ORDER BY term")};
        c.st.bind(1, seg);
        c.valid = c.st.step();
        cursors.push_back(std::move(c));
    }
    auto insert = db.prepare("INSERT INTO lex_postings(seg, term, df, data) VALUES(?, ?, ?, ?)");
    std::int64_t entries = 0;
    std::vector<Posting> merged, one;
    for (;;) {
        std::optional<std::string> term;
        for (const auto& c : cursors) {
            if (c.valid && (!term || c.st.text(0) < *term)) term = c.st.str(0);
        }
        if (!term) break;
        merged.clear();
        for (auto& c : cursors) {
            if (!c.valid || c.st.text(0) != *term) continue;
            one.clear();
            decode_postings(c.st.blob(1), one);
            for (const auto& p : one) {
                if (!is_dead(dead, p.chunk, c.seg)) merged.push_back(p);
            }
            c.valid = c.st.step();
        }
        if (merged.empty()) continue;
        std::sort(merged.begin(), merged.end(),
                  [](const Posting& a, const Posting& b) { return a.chunk < b.chunk; });
        write_postings(insert, target, *term, merged);
        entries += static_cast<std::int64_t>(merged.size());
    }
    cursors.clear();
    auto drop_rows = db.prepare("DELETE FROM lex_postings WHERE seg = ?");
    auto drop_seg = db.prepare("DELETE FROM lex_segments WHERE seg = ?");
    for (const auto seg : segments) {
        drop_rows.bind(1, seg).run();
        drop_seg.bind(1, seg).run();
    }
    if (entries > 0) add_segment(db, target, entries);
    // A dead mark matters only while some segment older than it remains.
    db.exec(
        "DELETE FROM lex_dead WHERE seg <= coalesce((SELECT min(seg) FROM lex_segments), "
        "9223372036854775807)");
}

void optimize_postings(store::Database& db) {
    std::vector<std::int64_t> all;
    auto st = db.prepare("SELECT seg FROM lex_segments ORDER BY seg");
    while (st.step()) all.push_back(st.int64(0));
    const auto dead = db.query_int("SELECT count(*) FROM lex_dead").value_or(0);
    if (all.size() > 1 || dead > 0) merge_segments(db, all);
}

void rebuild_postings(store::Database& db, text::Tokenizer& tokenizer) {
    db.exec(
        "DELETE FROM lex_postings; DELETE FROM lex_segments; DELETE FROM lex_dead; "
        "DELETE FROM lex_stats;");
    PostingWriter writer(db);
    auto chunks = db.prepare("SELECT id, title, heading, body FROM chunk_view ORDER BY id");
    auto set_len = db.prepare("UPDATE chunks SET lex_len = ? WHERE id = ?");
    TermCounter counter(tokenizer);
    std::size_t pending = 0;
    while (chunks.step()) {
        ChunkTerms terms = counter.count(chunks.text(1), chunks.text(2), chunks.text(3));
        set_len.bind(1, std::int64_t{terms.length}).bind(2, chunks.int64(0)).run();
        writer.add(chunks.int64(0), std::move(terms));
        if (++pending == kRebuildChunks) {
            writer.finish();
            pending = 0;
        }
    }
    writer.finish();
    optimize_postings(db);
}

std::vector<std::string> verify_postings(store::Database& db, text::Tokenizer& tokenizer) {
    std::vector<std::string> problems;
    constexpr std::size_t kMaxProblems = 10;
    auto problem = [&](std::string p) {
        if (problems.size() < kMaxProblems) problems.push_back(std::move(p));
    };
    // What the chunks' text says the postings should be.
    std::map<std::string, std::vector<Posting>> expected;
    CorpusStats want;
    TermCounter counter(tokenizer);
    {
        auto chunks = db.prepare(
            "SELECT c.id, v.title, v.heading, v.body, c.lex_len FROM chunks c "
            "JOIN chunk_view v ON v.id = c.id ORDER BY c.id");
        while (chunks.step()) {
            const std::int64_t id = chunks.int64(0);
            ChunkTerms terms = counter.count(chunks.text(1), chunks.text(2), chunks.text(3));
            if (chunks.int64(4) != terms.length) {
                problem(fmt::format("chunk {} records length {} but holds {} tokens", id,
                                    chunks.int64(4), terms.length));
            }
            ++want.chunks;
            want.length += terms.length;
            for (auto& t : terms.terms) {
                expected[std::move(t.term)].push_back({id, t.tf, terms.length});
            }
        }
    }
    const CorpusStats have = read_corpus_stats(db);
    if (have.chunks != want.chunks || have.length != want.length) {
        problem(fmt::format("lexical statistics say {} chunks of {} tokens; the text has {} of {}",
                            have.chunks, have.length, want.chunks, want.length));
    }
    // What the segments hold, dead entries left out.
    std::map<std::string, std::vector<Posting>> actual;
    {
        const auto dead = load_dead(db);
        auto st = db.prepare("SELECT seg, term, df, data FROM lex_postings ORDER BY term, seg");
        std::vector<Posting> one;
        while (st.step()) {
            one.clear();
            try {
                decode_postings(st.blob(3), one);
            } catch (const IndexError& e) {
                problem(fmt::format("postings of '{}' in segment {}: {}", st.text(1), st.int64(0),
                                    e.what()));
                continue;
            }
            if (static_cast<std::int64_t>(one.size()) != st.int64(2)) {
                problem(fmt::format("postings of '{}' in segment {} hold {} entries, not {}",
                                    st.text(1), st.int64(0), one.size(), st.int64(2)));
            }
            auto& list = actual[st.str(1)];
            for (const auto& p : one) {
                if (!is_dead(dead, p.chunk, st.int64(0))) list.push_back(p);
            }
        }
    }
    auto same = [](const Posting& a, const Posting& b) {
        return a.chunk == b.chunk && a.tf == b.tf && a.length == b.length;
    };
    for (auto& [term, list] : actual) {
        std::sort(list.begin(), list.end(),
                  [](const Posting& a, const Posting& b) { return a.chunk < b.chunk; });
        const auto e = expected.find(term);
        if (e == expected.end()) {
            if (!list.empty())
                problem(fmt::format("postings of '{}' name chunks without it", term));
            continue;
        }
        if (!std::equal(list.begin(), list.end(), e->second.begin(), e->second.end(), same)) {
            problem(fmt::format("postings of '{}' disagree with the text ({} entries, expected {})",
                                term, list.size(), e->second.size()));
        }
    }
    for (const auto& [term, list] : expected) {
        if (!actual.contains(term)) problem(fmt::format("no postings for '{}'", term));
    }
    return problems;
}

// ---- reading -------------------------------------------------------------------------------

PostingReader::PostingReader(store::Database& db)
    : db_(db),
      dead_(load_dead(db)),
      stats_(read_corpus_stats(db)),
      lookup_(db.cached("SELECT data FROM lex_postings WHERE seg = ?1 AND term = ?2")) {
    auto& st = db.cached("SELECT seg FROM lex_segments ORDER BY seg");
    while (st.step()) segments_.push_back(st.int64(0));
    st.reset();
}

void PostingReader::read(std::string_view term, std::vector<Posting>& out) {
    out.clear();
    for (const auto seg : segments_) {
        lookup_.bind(1, seg).bind(2, term);
        if (lookup_.step()) {
            try {
                scratch_.clear();
                decode_postings(lookup_.blob(0), dead_.empty() ? out : scratch_);
            } catch (const IndexError& e) {
                lookup_.reset();
                throw IndexError(fmt::format("postings of '{}' in segment {}: {} (run `rk index "
                                             "rebuild`)",
                                             term, seg, e.what()),
                                 db_.file().string());
            }
            for (const auto& p : scratch_) {
                if (!is_dead(dead_, p.chunk, seg)) out.push_back(p);
            }
        }
        lookup_.reset();
    }
}

}  // namespace rk::lexical
