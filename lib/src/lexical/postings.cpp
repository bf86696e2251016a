#include "lexical/postings.hpp"

#include <fmt/format.h>
#include <xxhash.h>

#include <algorithm>
#include <map>
#include <optional>

#include "lexical/segment_file.hpp"
#include "rk/error.hpp"

namespace rk::lexical {

namespace {

// A segment's level is its size in entries on a base-8 scale; eight segments of one level are
// merged into one of the next, so that there are O(log n) segments and every entry is
// rewritten O(log n) times (a million documents' entries about twice; base 4 would rewrite
// them twice as often for a third fewer segments).
constexpr std::int64_t kLevelBase = 16384;
constexpr std::size_t kSegmentsPerLevel = 8;
// Past this share of dead chunks, the next write merges everything to drop them.
constexpr double kDeadShare = 0.2;
// rebuild_postings() writes a segment per this many chunks, to bound its memory.
constexpr std::size_t kRebuildChunks = 50000;

int level_of(std::int64_t entries) {
    int level = 0;
    for (std::int64_t size = kLevelBase; entries >= size && level < 20; size *= 8) ++level;
    return level;
}

// Ids grow and are never given twice under one posting tag (lex_stats 'last_seg' remembers
// the greatest given, also once its segment is merged away): a posting file names its
// segment by id (segment_file.hpp).
std::int64_t next_segment_id(store::Database& db) {
    return db.query_int(
                 "SELECT max(coalesce((SELECT max(seg) FROM lex_segments), 0), "
                 "coalesce((SELECT max(seg) FROM lex_dead), 0), "
                 "coalesce((SELECT value FROM lex_stats WHERE key = 'last_seg'), 0))")
               .value_or(0) +
           1;
}

void add_segment(store::Database& db, std::int64_t seg, std::int64_t entries) {
    auto st = db.prepare("INSERT INTO lex_segments(seg, level, entries) VALUES(?, ?, ?)");
    st.bind(1, seg).bind(2, level_of(entries)).bind(3, entries).run();
    db.cached(
          "INSERT INTO lex_stats(key, value) VALUES('last_seg', ?1) "
          "ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)")
        .bind(1, seg)
        .run();
    ensure_posting_tag(db);
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

std::unordered_map<std::int64_t, std::int64_t> load_dead(store::Database& db) {
    std::unordered_map<std::int64_t, std::int64_t> dead;
    auto& st = db.cached("SELECT chunk, seg FROM lex_dead");
    while (st.step()) dead.emplace(st.int64(0), st.int64(1));
    st.reset();
    return dead;
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

PostingWriter::PostingWriter(store::Database& db, text::Tokenizer& tokenizer)
    : db_(db),
      counter_(tokenizer),
      seg_(next_segment_id(db)),
      doc_chunks_(db,
                  "SELECT c.id, c.lex_len, v.title, v.heading, v.body FROM chunks c "
                  "JOIN chunk_view v ON v.id = c.id WHERE c.doc = ?"),
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
        const std::int64_t chunk = doc_chunks_.int64(0);
        chunks.push_back(chunk);
        --delta_.chunks;
        delta_.length -= doc_chunks_.int64(1);
        if (const auto it = pending_at_.find(chunk); it != pending_at_.end()) {
            // Added in this transaction: its entries were never written.
            pending_[it->second].first = 0;
            pending_at_.erase(it);
            continue;
        }
        // Its entries in the segments die; their terms are counted again from the text.
        const ChunkTerms terms =
            counter_.count(doc_chunks_.text(2), doc_chunks_.text(3), doc_chunks_.text(4));
        for (const auto& t : terms.terms) ++dead_df_[t.term];
    }
    doc_chunks_.reset();
    for (const auto c : chunks) mark_dead_.bind(1, c).bind(2, seg_).run();
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
    if (!dead_df_.empty()) {
        auto st = db_.prepare(
            "INSERT INTO lex_dead_df(term, n) VALUES(?1, ?2) "
            "ON CONFLICT(term) DO UPDATE SET n = n + excluded.n");
        for (const auto& [term, n] : dead_df_) st.bind(1, term).bind(2, n).run();
        dead_df_.clear();
    }
    merge_if_needed();
    seg_ = next_segment_id(db_);
}

void PostingWriter::write_segment() {
    std::erase_if(pending_, [](const auto& c) { return c.first == 0; });
    std::sort(pending_.begin(), pending_.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    // Each term's entries, as chunks arrive in id order; terms are views of the pending
    // chunks' strings, which outlive this function's maps.
    std::unordered_map<std::string_view, std::uint32_t> where;
    std::vector<std::vector<Posting>> lists;
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
            lists[it->second].push_back({id, t.tf, chunk.length});
            ++entries;
        }
    }
    std::vector<std::uint32_t> order(lists.size());
    for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](std::uint32_t a, std::uint32_t b) { return terms[a] < terms[b]; });
    for (const auto i : order) write_list(db_, seg_, terms[i], lists[i]);
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

// One segment's terms in order, for the k-way merge.
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
        Cursor c{seg, db.prepare("SELECT term FROM lex_postings WHERE seg = ? ORDER BY term")};
        c.st.bind(1, seg);
        c.valid = c.st.step();
        cursors.push_back(std::move(c));
    }
    std::int64_t entries = 0;
    std::vector<std::pair<std::string, std::int64_t>> dropped;  // dead entries left out, per term
    std::vector<Posting> merged, one;
    for (;;) {
        std::optional<std::string> term;
        for (const auto& c : cursors) {
            if (c.valid && (!term || c.st.text(0) < *term)) term = c.st.str(0);
        }
        if (!term) break;
        merged.clear();
        std::int64_t gone = 0;
        for (auto& c : cursors) {
            if (!c.valid || c.st.text(0) != *term) continue;
            (void)read_list(db, c.seg, *term, one);
            for (const auto& p : one) {
                if (is_dead(dead, p.chunk, c.seg)) {
                    ++gone;
                } else {
                    merged.push_back(p);
                }
            }
            c.valid = c.st.step();
        }
        if (gone > 0) dropped.emplace_back(*term, gone);
        if (merged.empty()) continue;
        std::sort(merged.begin(), merged.end(),
                  [](const Posting& a, const Posting& b) { return a.chunk < b.chunk; });
        write_list(db, target, *term, merged);
        entries += static_cast<std::int64_t>(merged.size());
    }
    cursors.clear();
    auto drop_rows = db.prepare("DELETE FROM lex_postings WHERE seg = ?");
    auto drop_blocks = db.prepare("DELETE FROM lex_blocks WHERE seg = ?");
    auto drop_seg = db.prepare("DELETE FROM lex_segments WHERE seg = ?");
    for (const auto seg : segments) {
        drop_rows.bind(1, seg).run();
        drop_blocks.bind(1, seg).run();
        drop_seg.bind(1, seg).run();
    }
    if (entries > 0) add_segment(db, target, entries);
    auto undead = db.prepare("UPDATE lex_dead_df SET n = n - ?2 WHERE term = ?1");
    for (const auto& [term, n] : dropped) undead.bind(1, term).bind(2, n).run();
    db.exec("DELETE FROM lex_dead_df WHERE n <= 0");
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
        "DELETE FROM lex_postings; DELETE FROM lex_blocks; DELETE FROM lex_segments; "
        "DELETE FROM lex_dead; DELETE FROM lex_dead_df; DELETE FROM lex_stats;");
    PostingWriter writer(db, tokenizer);
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
    // What the segments hold, dead entries left out and counted.
    std::map<std::string, std::vector<Posting>> actual;
    std::map<std::string, std::int64_t> dead_counts;
    {
        const auto dead = load_dead(db);
        auto st = db.prepare("SELECT seg, term, df FROM lex_postings ORDER BY term, seg");
        std::vector<Posting> one;
        while (st.step()) {
            const std::int64_t seg = st.int64(0);
            const std::string term = st.str(1);
            try {
                (void)read_list(db, seg, term, one);
            } catch (const IndexError& e) {
                problem(e.what());
                continue;
            }
            if (static_cast<std::int64_t>(one.size()) != st.int64(2)) {
                problem(fmt::format("postings of '{}' in segment {} hold {} entries, not {}", term,
                                    seg, one.size(), st.int64(2)));
            }
            auto& list = actual[term];
            for (const auto& p : one) {
                if (is_dead(dead, p.chunk, seg)) {
                    ++dead_counts[term];
                } else {
                    list.push_back(p);
                }
            }
        }
    }
    {
        auto st = db.prepare("SELECT term, n FROM lex_dead_df");
        std::map<std::string, std::int64_t> stored;
        while (st.step()) stored[st.str(0)] = st.int64(1);
        if (stored != dead_counts) {
            problem(
                fmt::format("the counts of dead entries disagree with the segments ({} terms "
                            "counted, {} found)",
                            stored.size(), dead_counts.size()));
        }
    }
    const auto orphans = db.query_int(
        "SELECT count(*) FROM lex_blocks b WHERE NOT EXISTS (SELECT 1 FROM lex_postings p "
        "WHERE p.seg = b.seg AND p.term = b.term)");
    if (orphans.value_or(0) > 0) problem(fmt::format("{} posting blocks have no head", *orphans));
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

}  // namespace rk::lexical
