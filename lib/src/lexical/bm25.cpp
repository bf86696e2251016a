#include "lexical/bm25.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <exception>
#include <limits>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "lexical/cursor.hpp"
#include "lexical/fts_functions.hpp"
#include "lexical/postings.hpp"
#include "lexical/segment_file.hpp"
#include "rk/error.hpp"
#include "text/words.hpp"

namespace rk::lexical {

namespace {

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

// The best k-th score found by either of two threads sharing a query's windows.
class SharedThreshold {
  public:
    [[nodiscard]] double get() const { return value_.load(std::memory_order_relaxed); }
    void raise(double v) {
        double now = get();
        while (v > now && !value_.compare_exchange_weak(now, v, std::memory_order_relaxed)) {
        }
    }

  private:
    std::atomic<double> value_{0};
};

// The windows of chunk ids two threads share out as they go, each taking the next one nobody
// has taken: halves fixed in advance left one thread idle while the other, sharing its core
// with the vector signal's thread in hybrid search, had a third of its half still to score.
// Windows start at first + i * window.
class SharedWindows {
  public:
    SharedWindows(std::int64_t first, std::int64_t window) : first_(first), window_(window) {}
    // The start of the first window nobody has taken whose end is past `chunk` (windows
    // before it are skipped: the caller knows that no list has an entry there); kEnd once
    // abandoned.
    std::int64_t take(std::int64_t chunk) {
        if (abandoned_.load(std::memory_order_relaxed)) return kEnd;
        const std::int64_t at = chunk <= first_ ? 0 : (chunk - first_) / window_;
        std::int64_t next = next_.load(std::memory_order_relaxed);
        while (
            !next_.compare_exchange_weak(next, std::max(next, at) + 1, std::memory_order_relaxed)) {
        }
        if (next == 0) next_.notify_all();
        return first_ + std::max(next, at) * window_;
    }
    // The query will be scored again by one thread, or fails: the others need not go on.
    void abandon() {
        abandoned_.store(true, std::memory_order_relaxed);
        next_.fetch_add(1);
        next_.notify_all();
    }
    // Until some thread has taken a window (or they are abandoned).
    void wait_for_first() const { next_.wait(0); }

  private:
    std::int64_t first_, window_;
    std::atomic<std::int64_t> next_{0};
    std::atomic<bool> abandoned_{false};
};

using Groups = std::vector<std::vector<std::unique_ptr<Cursor>>>;

// MaxScore over the chunk ids from `from` on, `window` at a time, into `top`: each window
// that holds entries in turn, or those `windows` gives this thread. The cursors of each group
// (a query term) stand at or before `from`. Returns how many windows it scored.
std::size_t score_range(Groups& groups, std::int64_t from, std::int64_t window, TopK& top,
                        SharedThreshold* shared, SharedWindows* windows) {
    std::vector<double> acc(static_cast<std::size_t>(window), 0.0);
    std::vector<std::uint64_t> touched(static_cast<std::size_t>(window) / 64, 0);
    std::vector<double> wb(groups.size());
    std::vector<Candidate> candidates;
    std::vector<std::size_t> order(groups.size());
    auto threshold = [&] {
        return shared != nullptr ? std::max(top.threshold(), shared->get()) : top.threshold();
    };
    // The next window to score, from the first chunk id at or after `at` an entry could have.
    auto next_window = [&](std::int64_t at) {
        std::int64_t next = kEnd;
        for (const auto& g : groups) {
            for (const auto& c : g) next = std::min(next, c->earliest(at));
        }
        return next == kEnd || windows == nullptr ? next : windows->take(next);
    };
    std::size_t scored = 0;
    std::int64_t lo = next_window(from);
    for (; lo != kEnd; ++scored) {
        const std::int64_t hi = lo + window;
        for (std::size_t t = 0; t < groups.size(); ++t) {
            wb[t] = 0;
            for (const auto& c : groups[t]) wb[t] = std::max(wb[t], c->window_bound(lo, hi));
        }
        std::iota(order.begin(), order.end(), std::size_t{0});
        std::sort(order.begin(), order.end(),
                  [&](std::size_t a, std::size_t b) { return wb[a] < wb[b]; });
        // The terms before `essential` cannot lift a chunk past the threshold together: a
        // chunk only they hold is not worth scoring.
        const double floor = threshold();
        std::size_t essential = 0;
        double below = 0;
        while (essential < order.size() && below + wb[order[essential]] < floor) {
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
            std::erase_if(candidates, [&](const Candidate& c) { return c.score + rest < floor; });
            rest -= wb[order[i]];
            for (const auto& cursor : groups[order[i]]) cursor->add_to(candidates);
        }
        for (const auto& c : candidates) {
            if (c.score + rest >= threshold()) top.offer(c.chunk, c.score);
        }
        if (shared != nullptr && top.full()) shared->raise(top.threshold());
        lo = next_window(hi);
    }
    return scored;
}

}  // namespace

Bm25Top bm25(store::Database& db, text::Tokenizer& tokenizer, const std::vector<QueryTerm>& terms,
             const Bm25Params& params, std::size_t k, PostingFiles* files, const Bm25Work& work) {
    const std::int64_t window = work.window;
    if (window < 64 || window % 64 != 0) {
        throw Error(fmt::format("BM25 windows of {} chunk ids (a multiple of 64 needed)", window));
    }
    if (work.helper_first && work.helper_gate != nullptr) {
        throw Error("BM25's calling thread cannot wait for a helper held at a gate");
    }
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
    Groups groups;
    std::size_t entries = 0;  // in all lists, dead ones included
    std::vector<std::string> tokens;
    struct Found {
        std::int64_t seg;
        std::shared_ptr<const TermList> list;
        std::shared_ptr<const SegmentFile> file;
        FileTerm in_file;
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
                        lists.push_back(
                            {seg.id, seg.file->decoded_head(t, *in_file), seg.file, *in_file});
                    } catch (const IndexError& e) {
                        throw list_error(db, seg.id, t, e);
                    }
                    continue;
                }
            }
            head.bind(1, seg.id).bind(2, t);
            if (head.step()) {
                df += static_cast<double>(head.int64(0));
                try {
                    lists.push_back({seg.id,
                                     std::make_shared<const TermList>(decode_head(head.blob(1))),
                                     nullptr,
                                     {}});
                } catch (const IndexError& e) {
                    head.reset();
                    throw list_error(db, seg.id, t, e);
                }
            }
            head.reset();
        }
        dead_df.bind(1, t);
        if (dead_df.step()) df -= static_cast<double>(dead_df.int64(0));
        dead_df.reset();
        if (df <= 0) return;
        entries += static_cast<std::size_t>(df);
        const double w = idf(n_chunks, df) * weight;
        auto& group = groups.emplace_back();
        for (auto& f : lists) {
            group.push_back(std::make_unique<Cursor>(db, f.seg, t, std::move(f.list), w, weigh,
                                                     dead, std::move(f.file), f.in_file, files));
        }
    };
    // Each distinct token once, at the greatest weight it is asked with: a word said twice
    // in a query ("the use of X of Y") is not worth more for it. (Measured on the four shared
    // datasets against counting each time: better on two, within 0.0001 on the others;
    // bench/README.md.)
    std::vector<std::pair<std::string, double>> wanted;
    std::unordered_map<std::string, std::size_t> wanted_at;
    auto want = [&](const std::string& t, double weight) {
        const auto [it, fresh] = wanted_at.try_emplace(t, wanted.size());
        if (fresh) {
            wanted.emplace_back(t, weight);
        } else {
            wanted[it->second].second = std::max(wanted[it->second].second, weight);
        }
    };
    std::unordered_set<std::string> asked_whole;  // the phrases and prefixes asked of FTS5
    for (const auto& term : terms) {
        if (term.excluded || term.weight <= 0) continue;
        if (term.token) {
            want(term.text, term.weight);
            continue;
        }
        tokens.clear();
        tokenizer.tokenize(term.text, text::Tokenizer::Purpose::query,
                           [&](std::string_view t) { tokens.emplace_back(t); });
        if (tokens.empty()) continue;
        // A word the tokenizer splits ("1,000", "IL-6", "0-dimensional") counts as its
        // tokens, each on its own, as Lucene's query parser takes it; a quoted phrase and a
        // prefix go to FTS5.
        if (scored_by_tokens(term, tokens)) {
            for (const auto& t : tokens) want(t, term.weight);
        } else {
            // "any word that starts with prefix", which FTS5 matches against the stems.
            if (term.prefix && !term.phrase) {
                for (const auto& stem : stems_under(tokenizer, term.text)) {
                    want(stem, term.weight);
                }
            }
            if (!asked_whole.insert(whole_term_key(term, tokens)).second) continue;
            if (fts == nullptr) {
                fts = &db.cached(
                    "SELECT f.rowid, rk_field_tf(chunks_fts), c.lex_len FROM chunks_fts f "
                    "JOIN chunks c ON c.id = f.rowid WHERE chunks_fts MATCH ?1");
            }
            auto postings = fts_postings(*fts, term);
            if (postings.empty()) continue;
            entries += postings.size();
            const double w = idf(n_chunks, static_cast<double>(postings.size())) * term.weight;
            groups.emplace_back().push_back(std::make_unique<Cursor>(postings, w, weigh));
        }
    }
    for (const auto& [t, weight] : wanted) add_term(t, weight);
    for (auto& g : groups) std::erase_if(g, [](const auto& c) { return c->doc() == kEnd; });
    std::erase_if(groups, [](const auto& g) { return g.empty(); });

    // A long query's windows are shared out between this thread and a helper as they go,
    // each thread with its own cursors and top k; each prunes with the better of the two k-th
    // scores, which the final top k can only beat, so the result is exact.
    std::int64_t first = kEnd, last = 0;
    bool in_memory = true;
    for (const auto& g : groups) {
        for (const auto& c : g) {
            first = std::min(first, c->doc());
            last = std::max(last, c->last());
            in_memory = in_memory && c->needs_no_database();
        }
    }
    SharedThreshold shared;
    TopK top(k);
    bool scored_again = false;
    std::size_t helper_windows = 0;
    const bool split = k > 0 && in_memory && entries >= work.split_from_entries && last > first &&
                       std::thread::hardware_concurrency() > 1;
    if (!split) {
        score_range(groups, first, window, top, nullptr, nullptr);
    } else {
        Groups theirs;
        theirs.reserve(groups.size());
        for (const auto& g : groups) {
            auto& u = theirs.emplace_back();
            for (const auto& c : g) u.push_back(c->clone_for_thread());
        }
        SharedWindows windows(first, window);
        TopK their_top(k);
        bool helped = true;
        std::exception_ptr failure;
        // The helper, held at the gate, is let go once this thread has no windows left (or
        // failed): then there is nothing left for it to do.
        std::atomic<bool> caller_done{false};
        auto let_helper_go = [&] {
            if (work.helper_gate == nullptr) return;
            caller_done.store(true);
            work.helper_gate->wake();
        };
        std::thread helper([&] {
            try {
                if (work.helper_gate != nullptr) {
                    work.helper_gate->wait_or(caller_done);
                    if (caller_done.load()) return;
                }
                helper_windows = score_range(theirs, first, window, their_top, &shared, &windows);
            } catch (const NeedsDatabase&) {
                helped = false;  // this thread scores it all again, reading rk.db
                windows.abandon();
            } catch (...) {
                failure = std::current_exception();
                windows.abandon();
            }
        });
        try {
            if (work.helper_first) windows.wait_for_first();
            score_range(groups, first, window, top, &shared, &windows);
        } catch (...) {
            windows.abandon();
            let_helper_go();
            helper.join();
            throw;
        }
        let_helper_go();
        helper.join();
        if (failure) std::rethrow_exception(failure);
        if (helped) {
            for (const auto& c : their_top.take()) top.offer(c.chunk, c.score);
        } else {
            // The helper's windows are behind this thread's cursors, and which of them it
            // finished is not known: everything again, from the start. (Its k-th score still
            // bounds the final one.)
            for (const auto& g : groups) {
                for (const auto& c : g) c->rewind();
            }
            top = TopK(k);
            score_range(groups, first, window, top, &shared, nullptr);
            scored_again = true;
        }
    }
    Bm25Top out;
    out.scored_again = scored_again;
    out.helper_windows = helper_windows;
    // Until the heap is full nothing is turned away, by it or by the bounds.
    out.complete = !top.full();
    out.chunks = top.take();
    return out;
}

}  // namespace rk::lexical
