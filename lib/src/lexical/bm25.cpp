#include "lexical/bm25.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <string>

#include "lexical/fts_functions.hpp"
#include "lexical/postings.hpp"
#include "lexical/segment_file.hpp"
#include "rk/error.hpp"
#include "text/words.hpp"

namespace rk::lexical {

namespace {

constexpr std::int64_t kEnd = std::numeric_limits<std::int64_t>::max();
// Chunk ids are scored a window at a time; the cursors that need reading are chosen anew for
// each window from their blocks' bounds in it.
constexpr std::int64_t kWindow = 8192;
// Bounds are raised by this much, so that rounding can never make a bound fall under the
// score it bounds.
constexpr double kBoundSlack = 1 + 1e-9;

// BM25's term-frequency part for one entry, with the query's parameters.
class Weigher {
  public:
    Weigher(const Bm25Params& p, double avg_length)
        : w_{p.title, p.heading, p.body}, k1_(p.k1), b_(p.b), avg_(avg_length) {}
    [[nodiscard]] double operator()(const std::array<std::uint32_t, kFields>& tf,
                                    std::uint32_t length) const {
        double f = 0;
        for (std::size_t i = 0; i < kFields; ++i) f += w_[i] * tf[i];
        if (f <= 0) return 0;
        return f * (k1_ + 1.0) / (f + k1_ * (1.0 - b_ + b_ * length / avg_));
    }

  private:
    std::array<double, kFields> w_;
    double k1_, b_, avg_;
};

// A chunk an essential term holds, and its score so far.
struct Candidate {
    std::int64_t chunk = 0;
    double score = 0;
};

// One term's entries in one segment (or from FTS5, in memory). It reads a page only when it
// must stand in it, and decodes a block only when one of its entries is wanted: between
// blocks, and at a block's first entry, the directories say enough.
class Cursor {
  public:
    // A stored list, read from its segment's posting file when `file` is set (its rows in
    // `in_file`), else from rk.db. `dead` and `files` must outlive the cursor.
    Cursor(store::Database& db, std::int64_t seg, std::string term, TermList list, double idf,
           const Weigher& weigh, const std::unordered_map<std::int64_t, std::int64_t>& dead,
           std::shared_ptr<const SegmentFile> file, FileTerm in_file, PostingFiles* files)
        : db_(&db),
          seg_(seg),
          term_(std::move(term)),
          list_(std::move(list)),
          dead_(&dead),
          idf_(idf),
          weigh_(&weigh),
          file_(std::move(file)),
          in_file_(in_file),
          files_(files) {
        if (file_) place_pages();
        init();
    }

    // Entries held in memory, sorted by chunk id, encoded as a stored list is.
    Cursor(const std::vector<Posting>& postings, double idf, const Weigher& weigh)
        : memory_(encode_list(postings)),
          list_(decode_head(memory_.head)),
          idf_(idf),
          weigh_(&weigh) {
        init();
    }

    // The current entry's chunk id, kEnd past the last.
    [[nodiscard]] std::int64_t doc() const { return doc_; }
    [[nodiscard]] double max_bound() const { return max_bound_; }

    // The current entry's score.
    double score() {
        ensure_entry();
        return idf_ * (*weigh_)(buf_[pos_].tf, buf_[pos_].length);
    }

    void next() {
        ensure_entry();
        if (doc_ == kEnd) return;
        if (++pos_ < buf_.size()) {
            doc_ = buf_[pos_].chunk;
        } else {
            to_block(block_ + 1);
        }
    }

    // To the first entry at or after `target`.
    void advance(std::int64_t target) {
        if (doc_ >= target) return;
        if (state_ == State::page || list_.pages[page_].last < target) {
            std::size_t p = page_;
            while (p < list_.pages.size() && list_.pages[p].last < target) ++p;
            if (p != page_ || state_ != State::page) to_page(p);
            if (doc_ >= target) return;
            load_page();
        }
        std::size_t b = block_;
        while (blocks_[b].last < target) ++b;
        if (b != block_ || state_ != State::entry) {
            to_block(b);
            if (doc_ >= target) return;
            load_block();
            if (doc_ >= target || state_ != State::entry) return;
        }
        const auto it =
            std::lower_bound(buf_.begin() + static_cast<std::ptrdiff_t>(pos_), buf_.end(), target,
                             [](const Posting& p, std::int64_t t) { return p.chunk < t; });
        pos_ = static_cast<std::size_t>(it - buf_.begin());
        if (pos_ < buf_.size()) {
            doc_ = buf_[pos_].chunk;
        } else {
            to_block(block_ + 1);
        }
    }

    // Adds the scores of the entries in [lo, hi) into acc[chunk - lo], marking them in
    // `touched`, and stands on the first entry at or after hi.
    void accumulate(std::int64_t lo, std::int64_t hi, double* acc, std::uint64_t* touched) {
        advance(lo);
        while (doc_ < hi) {
            ensure_entry();
            if (doc_ >= hi) return;
            for (; pos_ < buf_.size() && buf_[pos_].chunk < hi; ++pos_) {
                const auto at = static_cast<std::size_t>(buf_[pos_].chunk - lo);
                acc[at] += idf_ * (*weigh_)(buf_[pos_].tf, buf_[pos_].length);
                touched[at / 64] |= std::uint64_t{1} << (at % 64);
            }
            if (pos_ < buf_.size()) {
                doc_ = buf_[pos_].chunk;
                return;
            }
            to_block(block_ + 1);
        }
    }

    // Adds this list's score to each of `candidates` (sorted by chunk id) it holds.
    void add_to(std::vector<Candidate>& candidates) {
        if (candidates.empty() || candidates.back().chunk < first_ ||
            candidates.front().chunk > last_) {
            return;
        }
        for (auto& c : candidates) {
            if (c.chunk > last_ || doc_ == kEnd) return;
            if (at(c.chunk)) c.score += score();
        }
    }

    // Whether the list holds `chunk`, standing on it if so (or on the first entry after).
    bool at(std::int64_t chunk) {
        if (chunk < first_ || chunk > last_) return false;  // outside the list: not moved
        advance(chunk);
        if (doc_ != chunk) return false;
        ensure_entry();  // the block's first entry may have been removed since
        return doc_ == chunk;
    }

    // The bound of the scores of entries in [lo, hi), from the pages there (0 if none).
    double window_bound(std::int64_t lo, std::int64_t hi) {
        const auto& pages = list_.pages;
        while (wpage_ < pages.size() && pages[wpage_].last < lo) ++wpage_;
        double best = 0;
        for (std::size_t p = wpage_; p < pages.size() && pages[p].first < hi; ++p) {
            best = std::max(best, bound_[p]);
        }
        return best;
    }
    // The first chunk id at or after `lo` an entry could have.
    [[nodiscard]] std::int64_t earliest(std::int64_t lo) const {
        if (doc_ >= lo) return doc_;
        std::size_t p = wpage_;
        while (p < list_.pages.size() && list_.pages[p].last < lo) ++p;
        return p == list_.pages.size() ? kEnd : std::max(lo, list_.pages[p].first);
    }

  private:
    // Where the cursor stands: at a page's first entry (page not read), at a block's first
    // entry (block not decoded), or at a decoded entry.
    enum class State { page, block, entry };

    void init() {
        if (!list_.pages.empty()) {
            first_ = list_.pages.front().first;
            last_ = list_.pages.back().last;
        }
        bound_.reserve(list_.pages.size());
        std::uint32_t at = 0;
        for (const auto& p : list_.pages) {
            double best = 0;
            for (; at < p.impacts_end; ++at) {
                best = std::max(best, (*weigh_)(list_.impacts[at].tf, list_.impacts[at].length));
            }
            bound_.push_back(idf_ * best * kBoundSlack);
            max_bound_ = std::max(max_bound_, bound_.back());
        }
        to_page(0);
    }

    void to_page(std::size_t p) {
        page_ = p;
        state_ = State::page;
        doc_ = p < list_.pages.size() ? list_.pages[p].first : kEnd;
    }

    void load_page() {
        if (db_ == nullptr) {
            page_view_ = list_.inline_page.empty() ? memory_.pages[page_] : list_.inline_page;
            decode_page(page_view_, list_.pages[page_], blocks_);
        } else if (file_ && list_.inline_page.empty()) {
            const std::string_view bytes =
                in_file_.pages.substr(page_at_[page_], list_.pages[page_].bytes);
            if (file_->page_sound(in_file_, page_, bytes)) {
                page_view_ = bytes;
                try {
                    decode_page(page_view_, list_.pages[page_], blocks_);
                } catch (const IndexError& e) {
                    throw IndexError(fmt::format("postings of '{}' in segment {}: {} (run `rk "
                                                 "index rebuild`)",
                                                 term_, seg_, e.what()),
                                     db_->file().string());
                }
            } else {
                file_damaged(fmt::format("page {} of the postings of '{}' fails its checksum",
                                         page_, term_));
                read_page(*db_, seg_, term_, list_, page_, page_bytes_, blocks_);
                page_view_ = page_bytes_;
            }
        } else {
            read_page(*db_, seg_, term_, list_, page_, page_bytes_, blocks_);
            page_view_ = page_bytes_;
        }
        to_block(0);
    }

    // Where each page starts in the file's copy of the list, checked against the head.
    void place_pages() {
        if (!list_.inline_page.empty()) return;  // a list of one block has no page rows
        std::uint64_t at = 0;
        page_at_.reserve(list_.pages.size());
        for (const auto& p : list_.pages) {
            page_at_.push_back(at);
            at += p.bytes;
        }
        if (at != in_file_.pages.size() || list_.pages.size() != in_file_.page_count) {
            file_damaged(
                fmt::format("holds pages of '{}' of other sizes than its head says", term_));
        }
    }

    void file_damaged(const std::string& what) {
        if (files_ != nullptr) files_->damaged(*file_, what);
        file_.reset();
    }

    void to_block(std::size_t b) {
        if (b >= blocks_.size()) {
            to_page(page_ + 1);
            return;
        }
        block_ = b;
        state_ = State::block;
        doc_ = blocks_[b].first;
    }

    // Decodes the current block and stands on its first live entry (or moves on, if none).
    void load_block() {
        buf_.clear();
        decode_block(page_view_, blocks_[block_], buf_);
        if (dead_ != nullptr && !dead_->empty()) {
            std::erase_if(buf_, [&](const Posting& p) { return is_dead(*dead_, p.chunk, seg_); });
        }
        if (buf_.empty()) {
            to_block(block_ + 1);
            return;
        }
        pos_ = 0;
        state_ = State::entry;
        doc_ = buf_.front().chunk;
    }

    void ensure_entry() {
        while (state_ != State::entry && doc_ != kEnd) {
            if (state_ == State::page) {
                load_page();
            } else {
                load_block();
            }
        }
    }

    store::Database* db_ = nullptr;  // null for a list in memory
    std::int64_t seg_ = 0;
    std::string term_;
    EncodedList memory_;
    TermList list_;
    const std::unordered_map<std::int64_t, std::int64_t>* dead_ = nullptr;
    double idf_;
    const Weigher* weigh_;
    std::vector<double> bound_;  // per page
    double max_bound_ = 0;
    // The list's first and last chunk ids: a segment's lists cover the chunks written in
    // its time, so a chunk is within the range of one of a term's cursors, most often.
    std::int64_t first_ = kEnd, last_ = 0;
    std::shared_ptr<const SegmentFile> file_;  // null: the list is read from rk.db
    FileTerm in_file_;
    PostingFiles* files_ = nullptr;
    std::vector<std::uint64_t> page_at_;  // each page's place in in_file_.pages
    State state_ = State::page;
    std::size_t page_ = 0, block_ = 0, pos_ = 0, wpage_ = 0;
    std::string_view page_view_;  // the current page's bytes (in the file, or in page_bytes_)
    std::string page_bytes_;      // a page read from rk.db
    std::vector<BlockRef> blocks_;
    std::vector<Posting> buf_;
    std::int64_t doc_ = kEnd;
};

// A phrase or prefix: FTS5 finds the chunks and counts the matches per field.
std::vector<Posting> fts_postings(store::Statement& st, const QueryTerm& term) {
    std::vector<Posting> out;
    st.bind(1, fts_atom(term));
    while (st.step()) {
        Posting p;
        p.chunk = st.int64(0);
        p.tf = unpack_field_tf(st.int64(1));
        p.length = static_cast<std::uint32_t>(st.int64(2));
        if (p.chunk > 0) out.push_back(p);
    }
    st.reset();
    std::sort(out.begin(), out.end(),
              [](const Posting& a, const Posting& b) { return a.chunk < b.chunk; });
    return out;
}

// The stems of words that start with `prefix` but that do not start with it themselves: a
// stemming index holds "connections" as "connect" and "running" as "run", which the prefix
// "connecti" or "runn" does not reach. Found by stemming the prefix with the endings English
// words take (with the index's own tokenizer, so an index that does not stem finds none).
std::vector<std::string> stems_under(text::Tokenizer& tokenizer, std::string_view prefix) {
    // Each ending, and each of its tails, since the prefix may end inside it ("connecti").
    static const std::vector<std::string> kEndings = [] {
        std::vector<std::string> out{""};
        for (const std::string_view e :
             {"ing",  "ings",    "ion",    "ions", "ive",  "ives",  "ity", "ities", "ies",  "ally",
              "ated", "ation",   "ations", "ness", "ment", "ments", "ers", "able",  "ence", "ance",
              "ism",  "ization", "ical",   "ed",   "ly",   "es",    "e",   "s",     "y"}) {
            for (std::size_t at = 0; at < e.size(); ++at) {
                std::string tail(e.substr(at));
                if (std::find(out.begin(), out.end(), tail) == out.end()) out.push_back(tail);
            }
        }
        return out;
    }();
    const std::string folded = text::nfkc_casefold(prefix);
    std::vector<std::string> out, tokens;
    for (const auto& ending : kEndings) {
        tokens.clear();
        tokenizer.tokenize(folded + ending, text::Tokenizer::Purpose::document,
                           [&](std::string_view t) { tokens.emplace_back(t); });
        if (tokens.size() != 1) continue;
        const std::string& stem = tokens.front();
        if (stem.size() >= 2 && stem.size() < folded.size() && folded.starts_with(stem) &&
            std::find(out.begin(), out.end(), stem) == out.end()) {
            out.push_back(stem);
        }
    }
    return out;
}

// Lucene's IDF: never negative, so a term in most chunks still counts a little, unlike FTS5's
// bm25(), which flattens every such term to the same tiny weight.
double idf(double chunks, double df) {
    return std::log(1.0 + std::max(0.0, chunks - df + 0.5) / (df + 0.5));
}

// The k best so far, the worst on top.
class TopK {
  public:
    explicit TopK(std::size_t k) : k_(k) {}
    // The score a chunk must beat (or tie with a lower id) to get in; 0 until k are in.
    [[nodiscard]] double threshold() const { return full() ? heap_.front().score : 0; }
    [[nodiscard]] bool full() const { return k_ > 0 && heap_.size() >= k_; }
    void offer(std::int64_t chunk, double score) {
        const ScoredChunk c{chunk, score};
        if (!full()) {
            heap_.push_back(c);
            if (k_ > 0) std::push_heap(heap_.begin(), heap_.end(), better);
            return;
        }
        if (!better(c, heap_.front())) return;
        std::pop_heap(heap_.begin(), heap_.end(), better);
        heap_.back() = c;
        std::push_heap(heap_.begin(), heap_.end(), better);
    }
    std::vector<ScoredChunk> take() {
        std::sort(heap_.begin(), heap_.end(), better);
        return std::move(heap_);
    }

  private:
    static bool better(const ScoredChunk& a, const ScoredChunk& b) {
        return a.score > b.score || (a.score == b.score && a.chunk < b.chunk);
    }
    std::size_t k_;
    std::vector<ScoredChunk> heap_;
};

}  // namespace

Bm25Top bm25(store::Database& db, text::Tokenizer& tokenizer, const std::vector<QueryTerm>& terms,
             const Bm25Params& params, std::size_t k, PostingFiles* files) {
    const CorpusStats stats = read_corpus_stats(db);
    const auto n_chunks = static_cast<double>(stats.chunks);
    const double avg_length = stats.chunks > 0 ? static_cast<double>(stats.length) / n_chunks : 1.0;
    const Weigher weigh(params, avg_length);
    const auto dead = load_dead(db);

    // Each segment, and its posting file when there is one to read instead of the rows.
    struct Segment {
        std::int64_t id;
        std::shared_ptr<const SegmentFile> file;
    };
    std::vector<Segment> segments;
    {
        const std::uint64_t tag = files != nullptr ? posting_tag(db) : 0;
        auto& st = db.cached("SELECT seg, entries FROM lex_segments ORDER BY seg");
        while (st.step()) {
            const std::int64_t seg = st.int64(0);
            segments.push_back({seg, tag != 0 ? files->get(tag, seg, st.int64(1)) : nullptr});
        }
        st.reset();
    }
    auto& head = db.cached("SELECT df, data FROM lex_postings WHERE seg = ?1 AND term = ?2");
    auto& dead_df = db.cached("SELECT n FROM lex_dead_df WHERE term = ?1");
    store::Statement* fts = nullptr;
    // The cursors of each query term: one per segment (or one from FTS5). A chunk's entry is
    // live in at most one segment, so a term's bound is the greatest of its cursors', not
    // their sum.
    std::vector<std::vector<std::unique_ptr<Cursor>>> groups;
    std::vector<std::string> tokens;
    struct Found {
        std::int64_t seg;
        TermList list;
        std::shared_ptr<const SegmentFile> file;
        FileTerm in_file;
    };
    auto bad_list = [&](const std::string& t, std::int64_t seg, const IndexError& e) {
        return IndexError(fmt::format("postings of '{}' in segment {}: {} (run `rk index rebuild`)",
                                      t, seg, e.what()),
                          db.file().string());
    };
    auto add_term = [&](const std::string& t, double weight) {
        std::vector<Found> lists;
        double df = 0;
        for (auto& seg : segments) {
            if (seg.file) {
                std::optional<FileTerm> in_file;
                try {
                    in_file = seg.file->find(t);
                } catch (const IndexError& e) {
                    files->damaged(*seg.file, e.what());
                    seg.file.reset();
                }
                if (seg.file) {
                    if (!in_file) continue;
                    df += static_cast<double>(in_file->df);
                    try {
                        lists.push_back({seg.id, decode_head(in_file->head), seg.file, *in_file});
                    } catch (const IndexError& e) {
                        throw bad_list(t, seg.id, e);
                    }
                    continue;
                }
            }
            head.bind(1, seg.id).bind(2, t);
            if (head.step()) {
                df += static_cast<double>(head.int64(0));
                try {
                    lists.push_back({seg.id, decode_head(head.blob(1)), nullptr, {}});
                } catch (const IndexError& e) {
                    head.reset();
                    throw bad_list(t, seg.id, e);
                }
            }
            head.reset();
        }
        dead_df.bind(1, t);
        if (dead_df.step()) df -= static_cast<double>(dead_df.int64(0));
        dead_df.reset();
        if (df <= 0) return;
        const double w = idf(n_chunks, df) * weight;
        auto& group = groups.emplace_back();
        for (auto& f : lists) {
            group.push_back(std::make_unique<Cursor>(db, f.seg, t, std::move(f.list), w, weigh,
                                                     dead, std::move(f.file), f.in_file, files));
        }
    };
    for (const auto& term : terms) {
        if (term.excluded || term.weight <= 0) continue;
        if (term.token) {
            add_term(term.text, term.weight);
            continue;
        }
        tokens.clear();
        tokenizer.tokenize(term.text, text::Tokenizer::Purpose::query,
                           [&](std::string_view t) { tokens.emplace_back(t); });
        if (tokens.empty()) continue;
        // A word the tokenizer splits ("1,000", "IL-6", "0-dimensional") counts as its
        // tokens, each on its own, as Lucene's query parser takes it; a quoted phrase and a
        // prefix go to FTS5.
        if (!term.prefix && (tokens.size() == 1 || !term.phrase)) {
            for (const auto& t : tokens) add_term(t, term.weight);
        } else {
            // "any word that starts with prefix", which FTS5 matches against the stems.
            if (term.prefix && !term.phrase) {
                for (const auto& stem : stems_under(tokenizer, term.text)) {
                    add_term(stem, term.weight);
                }
            }
            if (fts == nullptr) {
                fts = &db.cached(
                    "SELECT f.rowid, rk_field_tf(chunks_fts), c.lex_len FROM chunks_fts f "
                    "JOIN chunks c ON c.id = f.rowid WHERE chunks_fts MATCH ?1");
            }
            auto postings = fts_postings(*fts, term);
            if (postings.empty()) continue;
            const double w = idf(n_chunks, static_cast<double>(postings.size())) * term.weight;
            groups.emplace_back().push_back(std::make_unique<Cursor>(postings, w, weigh));
        }
    }
    for (auto& g : groups) std::erase_if(g, [](const auto& c) { return c->doc() == kEnd; });
    std::erase_if(groups, [](const auto& g) { return g.empty(); });

    TopK top(k);
    std::vector<double> acc(static_cast<std::size_t>(kWindow), 0.0);
    std::vector<std::uint64_t> touched(static_cast<std::size_t>(kWindow) / 64, 0);
    std::vector<double> wb(groups.size());
    std::vector<Candidate> candidates;
    std::vector<std::size_t> order(groups.size());
    std::int64_t lo = kEnd;
    for (const auto& g : groups) {
        for (const auto& c : g) lo = std::min(lo, c->doc());
    }
    while (lo != kEnd) {
        const std::int64_t hi = lo + kWindow;
        for (std::size_t t = 0; t < groups.size(); ++t) {
            wb[t] = 0;
            for (const auto& c : groups[t]) wb[t] = std::max(wb[t], c->window_bound(lo, hi));
        }
        std::iota(order.begin(), order.end(), std::size_t{0});
        std::sort(order.begin(), order.end(),
                  [&](std::size_t a, std::size_t b) { return wb[a] < wb[b]; });
        // The terms before `essential` cannot lift a chunk past the threshold together: a
        // chunk only they hold is not worth scoring.
        const double threshold = top.threshold();
        std::size_t essential = 0;
        double below = 0;
        while (essential < order.size() && below + wb[order[essential]] < threshold) {
            below += wb[order[essential++]];
        }
        for (std::size_t e = essential; e < order.size(); ++e) {
            for (const auto& cursor : groups[order[e]]) {
                cursor->accumulate(lo, hi, acc.data(), touched.data());
            }
        }
        // The essential terms' chunks, then the other terms added one at a time (largest
        // bound first), each time to the chunks that can still reach the threshold: merging
        // sorted candidates with each list costs less than looking each chunk up in each.
        candidates.clear();
        for (std::size_t word = 0; word < touched.size(); ++word) {
            for (std::uint64_t bits = touched[word]; bits != 0; bits &= bits - 1) {
                const std::size_t at = word * 64 + static_cast<std::size_t>(std::countr_zero(bits));
                candidates.push_back({lo + static_cast<std::int64_t>(at), acc[at]});
                acc[at] = 0;
            }
            touched[word] = 0;
        }
        double rest = below;
        for (std::size_t i = essential; i-- > 0 && !candidates.empty();) {
            std::erase_if(candidates,
                          [&](const Candidate& c) { return c.score + rest < threshold; });
            rest -= wb[order[i]];
            for (const auto& cursor : groups[order[i]]) cursor->add_to(candidates);
        }
        for (const auto& c : candidates) {
            if (c.score + rest >= top.threshold()) top.offer(c.chunk, c.score);
        }
        std::int64_t next = kEnd;
        for (const auto& g : groups) {
            for (const auto& c : g) next = std::min(next, c->earliest(hi));
        }
        lo = next;
    }
    Bm25Top out;
    // Until the heap is full nothing is turned away, by it or by the bounds.
    out.complete = !top.full();
    out.chunks = top.take();
    return out;
}

}  // namespace rk::lexical
