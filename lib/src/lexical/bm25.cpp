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
#include "rk/error.hpp"

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

// One term's entries in one segment (or from FTS5, in memory), read block by block.
class Cursor {
  public:
    // A stored list; its blocks are read when reached. `dead` must outlive the cursor.
    Cursor(store::Database& db, std::int64_t seg, std::string term, TermList list, double idf,
           const Weigher& weigh, const std::unordered_map<std::int64_t, std::int64_t>& dead)
        : db_(&db),
          seg_(seg),
          term_(std::move(term)),
          list_(std::move(list)),
          dead_(&dead),
          idf_(idf),
          weigh_(&weigh) {
        bound_.reserve(list_.blocks.size());
        std::uint32_t at = 0;
        for (const auto& b : list_.blocks) {
            double best = 0;
            for (; at < b.impacts_end; ++at) {
                best = std::max(best, weigh(list_.impacts[at].tf, list_.impacts[at].length));
            }
            bound_.push_back(idf_ * best * kBoundSlack);
        }
        init();
    }

    // Entries held in memory, sorted by chunk id.
    Cursor(std::vector<Posting> postings, double idf, const Weigher& weigh)
        : memory_(std::move(postings)), idf_(idf), weigh_(&weigh) {
        for (std::size_t start = 0; start < memory_.size(); start += kBlockSize) {
            const std::size_t end = std::min(memory_.size(), start + kBlockSize);
            BlockInfo info;
            double best = 0;
            for (std::size_t i = start; i < end; ++i) {
                best = std::max(best, weigh(memory_[i].tf, memory_[i].length));
            }
            info.last = memory_[end - 1].chunk;
            list_.blocks.push_back(info);
            bound_.push_back(idf_ * best * kBoundSlack);
        }
        init();
    }

    [[nodiscard]] std::int64_t doc() const { return doc_; }
    [[nodiscard]] double score() const {
        return idf_ * (*weigh_)(buf_[pos_].tf, buf_[pos_].length);
    }
    [[nodiscard]] double max_bound() const { return max_bound_; }

    void next() {
        if (++pos_ < buf_.size()) {
            doc_ = buf_[pos_].chunk;
        } else {
            load(block_ + 1);
        }
    }

    // To the first entry at or after `target`.
    void advance(std::int64_t target) {
        if (doc_ >= target) return;
        if (list_.blocks[block_].last < target) {
            std::size_t b = block_ + 1;
            while (b < list_.blocks.size() && list_.blocks[b].last < target) ++b;
            load(b);
            if (doc_ >= target) return;
        }
        // The entry is in this block, past the current one.
        const auto it =
            std::lower_bound(buf_.begin() + static_cast<std::ptrdiff_t>(pos_), buf_.end(), target,
                             [](const Posting& p, std::int64_t t) { return p.chunk < t; });
        pos_ = static_cast<std::size_t>(it - buf_.begin());
        if (pos_ < buf_.size()) {
            doc_ = buf_[pos_].chunk;
        } else {
            load(block_ + 1);
        }
    }

    // The bound of the scores of entries in [lo, hi), from the blocks there (0 if none), and
    // the first chunk id at or after `lo` an entry could have.
    double window_bound(std::int64_t lo, std::int64_t hi) {
        while (wblock_ < list_.blocks.size() && list_.blocks[wblock_].last < lo) ++wblock_;
        double best = 0;
        for (std::size_t b = wblock_; b < list_.blocks.size() && block_start(b) < hi; ++b) {
            best = std::max(best, bound_[b]);
        }
        return best;
    }
    [[nodiscard]] std::int64_t earliest(std::int64_t lo) const {
        std::size_t b = wblock_;
        while (b < list_.blocks.size() && list_.blocks[b].last < lo) ++b;
        if (b == list_.blocks.size()) return kEnd;
        return std::max(lo, block_start(b));
    }

  private:
    void init() {
        for (const double b : bound_) max_bound_ = std::max(max_bound_, b);
        load(0);
    }

    [[nodiscard]] std::int64_t block_start(std::size_t b) const {
        return b == 0 ? 0 : list_.blocks[b - 1].last + 1;
    }

    // Reads block b (or the first after it with a live entry) and stands on its first entry.
    void load(std::size_t b) {
        for (; b < list_.blocks.size(); ++b) {
            block_ = b;
            pos_ = 0;
            if (db_ == nullptr) {
                const std::size_t start = b * kBlockSize;
                const std::size_t end = std::min(memory_.size(), start + kBlockSize);
                buf_.assign(memory_.begin() + static_cast<std::ptrdiff_t>(start),
                            memory_.begin() + static_cast<std::ptrdiff_t>(end));
            } else {
                read_block(*db_, seg_, term_, list_, b, buf_, page_);
                if (!dead_->empty()) {
                    std::erase_if(buf_,
                                  [&](const Posting& p) { return is_dead(*dead_, p.chunk, seg_); });
                }
            }
            if (!buf_.empty()) {
                doc_ = buf_.front().chunk;
                return;
            }
        }
        block_ = list_.blocks.empty() ? 0 : list_.blocks.size() - 1;
        buf_.clear();
        doc_ = kEnd;
    }

    store::Database* db_ = nullptr;  // null for a list in memory
    std::int64_t seg_ = 0;
    std::string term_;
    TermList list_;
    std::vector<Posting> memory_;
    const std::unordered_map<std::int64_t, std::int64_t>* dead_ = nullptr;
    double idf_;
    const Weigher* weigh_;
    std::vector<double> bound_;
    double max_bound_ = 0;
    std::size_t block_ = 0, pos_ = 0, wblock_ = 0;
    std::vector<Posting> buf_;
    PageCache page_;
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
             const Bm25Params& params, std::size_t k) {
    const CorpusStats stats = read_corpus_stats(db);
    const auto n_chunks = static_cast<double>(stats.chunks);
    const double avg_length = stats.chunks > 0 ? static_cast<double>(stats.length) / n_chunks : 1.0;
    const Weigher weigh(params, avg_length);
    const auto dead = load_dead(db);

    std::vector<std::int64_t> segments;
    {
        auto& st = db.cached("SELECT seg FROM lex_segments ORDER BY seg");
        while (st.step()) segments.push_back(st.int64(0));
        st.reset();
    }
    auto& head = db.cached("SELECT df, data FROM lex_postings WHERE seg = ?1 AND term = ?2");
    auto& dead_df = db.cached("SELECT n FROM lex_dead_df WHERE term = ?1");
    store::Statement* fts = nullptr;
    std::vector<std::unique_ptr<Cursor>> cursors;
    std::vector<std::string> tokens;
    for (const auto& term : terms) {
        if (term.excluded) continue;
        tokens.clear();
        tokenizer.tokenize(term.text, text::Tokenizer::Purpose::query,
                           [&](std::string_view t) { tokens.emplace_back(t); });
        if (tokens.empty()) continue;
        if (tokens.size() == 1 && !term.prefix) {
            const std::string& t = tokens.front();
            std::vector<std::pair<std::int64_t, TermList>> lists;
            double df = 0;
            for (const auto seg : segments) {
                head.bind(1, seg).bind(2, t);
                if (head.step()) {
                    df += static_cast<double>(head.int64(0));
                    try {
                        lists.emplace_back(seg, decode_head(head.blob(1)));
                    } catch (const IndexError& e) {
                        head.reset();
                        throw IndexError(fmt::format("postings of '{}' in segment {}: {} (run "
                                                     "`rk index rebuild`)",
                                                     t, seg, e.what()),
                                         db.file().string());
                    }
                }
                head.reset();
            }
            dead_df.bind(1, t);
            if (dead_df.step()) df -= static_cast<double>(dead_df.int64(0));
            dead_df.reset();
            if (df <= 0) continue;
            const double w = idf(n_chunks, df);
            for (auto& [seg, list] : lists) {
                cursors.push_back(
                    std::make_unique<Cursor>(db, seg, t, std::move(list), w, weigh, dead));
            }
        } else {
            if (fts == nullptr) {
                fts = &db.cached(
                    "SELECT f.rowid, rk_field_tf(chunks_fts), c.lex_len FROM chunks_fts f "
                    "JOIN chunks c ON c.id = f.rowid WHERE chunks_fts MATCH ?1");
            }
            auto postings = fts_postings(*fts, term);
            if (postings.empty()) continue;
            const double w = idf(n_chunks, static_cast<double>(postings.size()));
            cursors.push_back(std::make_unique<Cursor>(std::move(postings), w, weigh));
        }
    }
    std::erase_if(cursors, [](const auto& c) { return c->doc() == kEnd; });

    TopK top(k);
    std::vector<double> acc(static_cast<std::size_t>(kWindow), 0.0);
    std::vector<std::uint64_t> touched(static_cast<std::size_t>(kWindow) / 64, 0);
    std::vector<double> wb(cursors.size());
    std::vector<std::size_t> order(cursors.size());
    std::int64_t lo = kEnd;
    for (const auto& c : cursors) lo = std::min(lo, c->doc());
    while (lo != kEnd) {
        const std::int64_t hi = lo + kWindow;
        for (std::size_t i = 0; i < cursors.size(); ++i) wb[i] = cursors[i]->window_bound(lo, hi);
        std::iota(order.begin(), order.end(), std::size_t{0});
        std::sort(order.begin(), order.end(),
                  [&](std::size_t a, std::size_t b) { return wb[a] < wb[b]; });
        // The cursors before `essential` cannot lift a chunk past the threshold together: a
        // chunk only they hold is not worth scoring.
        const double threshold = top.threshold();
        std::size_t essential = 0;
        double below = 0;
        while (essential < order.size() && below + wb[order[essential]] < threshold) {
            below += wb[order[essential++]];
        }
        for (std::size_t e = essential; e < order.size(); ++e) {
            Cursor& c = *cursors[order[e]];
            c.advance(lo);
            for (; c.doc() < hi; c.next()) {
                const auto at = static_cast<std::size_t>(c.doc() - lo);
                acc[at] += c.score();
                touched[at / 64] |= std::uint64_t{1} << (at % 64);
            }
        }
        for (std::size_t word = 0; word < touched.size(); ++word) {
            for (std::uint64_t bits = touched[word]; bits != 0; bits &= bits - 1) {
                const std::size_t at = word * 64 + static_cast<std::size_t>(std::countr_zero(bits));
                double score = acc[at];
                acc[at] = 0;
                const std::int64_t chunk = lo + static_cast<std::int64_t>(at);
                double rest = below;
                bool out = false;
                for (std::size_t i = essential; i-- > 0 && !out;) {
                    if (score + rest < top.threshold()) {
                        out = true;
                        break;
                    }
                    rest -= wb[order[i]];
                    Cursor& c = *cursors[order[i]];
                    c.advance(chunk);
                    if (c.doc() == chunk) score += c.score();
                }
                if (!out) top.offer(chunk, score);
            }
            touched[word] = 0;
        }
        std::int64_t next = kEnd;
        for (const auto& c : cursors) next = std::min(next, c->earliest(hi));
        lo = next;
    }
    Bm25Top out;
    // Until the heap is full nothing is turned away, by it or by the bounds.
    out.complete = !top.full();
    out.chunks = top.take();
    return out;
}

}  // namespace rk::lexical
