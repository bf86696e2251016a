#include "search/vector_signal.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <system_error>
#include <utility>

#include "store/index_impl.hpp"
#include "vector/store.hpp"

namespace rk {

namespace {

using lexical::ScoredChunk;

// Below this many candidate vectors a scan of their codes is as fast as the graph, and finds
// every candidate.
constexpr std::int64_t kExactLimit = 4096;
// How many of the candidates the codes rank best are scored exactly: the depth the caller
// needs (twice that in vector mode), and this many more (the codes' ranks are noisy; see
// bench/README.md).
constexpr std::size_t kRescoreExtra = 32;
// When filters leave too few of the graph's nearest, the second search asks for this many
// times more.
constexpr std::size_t kFilterRetry = 8;

// The statement exact_similarity() reads a chunk's stored vector with, and its text when the
// embedding's scores need it.
store::Statement& chunk_vector(store::Database& db, bool text) {
    return text ? db.cached(
                      "SELECT x.data, v.title, v.heading, v.body FROM chunk_view v "
                      "JOIN vectors x ON x.chunk = v.id WHERE v.id = ?1")
                : db.cached("SELECT data FROM vectors WHERE chunk = ?1");
}

// A chunk's exact similarity to the query, from its stored vector (and text), read with `st`
// from chunk_vector(); nullopt when the chunk is gone.
std::optional<double> exact_similarity(store::Statement& st, const vector::QueryVector& query,
                                       std::int64_t chunk, bool text) {
    st.bind(1, chunk);
    std::optional<double> out;
    if (st.step()) {
        out = query.similarity(
            text ? vector::embedding_text(st.text(1), st.text(2), st.text(3)) : std::string(),
            st.blob(0));
    }
    st.reset();
    return out;
}

}  // namespace

// The exact scoring of one list of candidates, shared out between the thread that found them
// and a thread that comes to help when it is free (each on its own connection, reading the
// same snapshot). Whoever finds the list takes candidates from the front one at a time, and
// so does the helper; the finder then waits for those the helper took.
class SharedRescore {
  public:
    // By the finder, at most once: shares `chunks` and scores them with the helper's help
    // (score i for chunks[i], nullopt for a chunk that is gone).
    std::vector<std::optional<double>> run(store::Database& db, const vector::QueryVector& query,
                                           const std::vector<std::int64_t>& chunks, bool text) {
        {
            const std::lock_guard lock(mutex_);
            chunks_ = chunks;
            scores_.assign(chunks.size(), std::nullopt);
            taken_by_helper_.assign(chunks.size(), 0);
            query_ = query.copy();  // the helper's (a query caches what it scores)
            text_ = text;
            state_ = State::shared;
        }
        ready_.notify_all();
        auto& st = chunk_vector(db, text);
        for (auto i = take(false); i < chunks.size(); i = take(false)) {
            scores_[i] = exact_similarity(st, query, chunks[i], text);
        }
        std::unique_lock lock(mutex_);
        done_.wait(lock, [&] { return helper_busy_ == 0 || helper_failed_; });
        state_ = State::closed;
        if (helper_failed_) {
            // What the helper took and could not score is scored here.
            for (std::size_t i = 0; i < chunks.size(); ++i) {
                if (taken_by_helper_[i] == 1) {
                    scores_[i] = exact_similarity(st, query, chunks[i], text);
                }
            }
        }
        return std::move(scores_);
    }

    // By the finder, when it will share nothing (more): lets a waiting helper go.
    void close() {
        {
            const std::lock_guard lock(mutex_);
            if (state_ == State::waiting) state_ = State::closed;
        }
        ready_.notify_all();
    }

    // By the helper: waits until a list is shared or none will be, and scores what it can
    // take of it. Rethrows what failed (the finder scores the rest).
    void help(store::Database& db) {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [&] { return state_ != State::waiting; });
        if (state_ != State::shared) return;
        lock.unlock();
        try {
            auto& st = chunk_vector(db, text_);
            for (auto i = take(true); i < chunks_.size(); i = take(true)) {
                auto score = exact_similarity(st, *query_, chunks_[i], text_);
                const std::lock_guard guard(mutex_);
                scores_[i] = score;
                taken_by_helper_[i] = 2;
                --helper_busy_;
            }
        } catch (...) {
            {
                const std::lock_guard guard(mutex_);
                helper_failed_ = true;
            }
            done_.notify_all();
            throw;
        }
        done_.notify_all();
    }

  private:
    enum class State { waiting, shared, closed };

    // The next candidate nobody has taken, or chunks_.size().
    std::size_t take(bool helper) {
        const std::lock_guard lock(mutex_);
        if (state_ != State::shared || next_ >= chunks_.size()) return chunks_.size();
        if (helper) {
            taken_by_helper_[next_] = 1;
            ++helper_busy_;
        }
        return next_++;
    }

    std::mutex mutex_;
    std::condition_variable ready_, done_;
    State state_ = State::waiting;
    std::vector<std::int64_t> chunks_;
    std::vector<std::optional<double>> scores_;
    std::vector<char> taken_by_helper_;  // 1 taken, 2 scored
    std::unique_ptr<vector::QueryVector> query_;
    bool text_ = false;
    std::size_t next_ = 0;
    int helper_busy_ = 0;
    bool helper_failed_ = false;
};

namespace {

// Scores candidate chunks exactly (with `share`'s helper when given) and keeps those at or
// above the similarity floor, in their order.
std::vector<ScoredChunk> rescore(store::Database& db, const vector::Embedding& embedding,
                                 const vector::QueryVector& query,
                                 const std::vector<std::int64_t>& chunks, SharedRescore* share) {
    const bool text = embedding.reads_text();
    std::vector<std::optional<double>> scores;
    if (share != nullptr) {
        scores = share->run(db, query, chunks, text);
    } else {
        scores.reserve(chunks.size());
        auto& st = chunk_vector(db, text);
        for (const auto chunk : chunks) {
            scores.push_back(exact_similarity(st, query, chunk, text));
        }
    }
    const double floor = embedding.min_similarity();
    std::vector<ScoredChunk> out;
    out.reserve(chunks.size());
    for (std::size_t i = 0; i < chunks.size(); ++i) {
        if (scores[i] && *scores[i] >= floor) out.push_back({chunks[i], *scores[i]});
    }
    return out;
}

// The `n` best of scored candidates, best first.
std::vector<std::int64_t> best(std::vector<ScoredChunk>& scored, std::size_t n) {
    n = std::min(n, scored.size());
    std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(n), scored.end(),
                      [](const ScoredChunk& a, const ScoredChunk& b) {
                          return a.score > b.score || (a.score == b.score && a.chunk < b.chunk);
                      });
    std::vector<std::int64_t> out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = scored[i].chunk;
    return out;
}

// Whether the vector signal may need the graph: the codes of a few thousand vectors are
// scanned instead (all of them, or those a filter leaves when they are that few).
bool may_need_graph(const Query& q, std::int64_t vectors) {
    using VS = Query::VectorSearch;
    return q.vector_search == VS::graph ||
           (q.vector_search == VS::automatic && vectors > kExactLimit);
}

// The vector signal's units, read on `db`. The chunks' codes find the candidates: all of them
// when a filter leaves few (or the index is small), else the nearest in `view`'s graph (null
// when may_need_graph() said no); the best candidates are then scored exactly from their
// text (the first ones with `share`'s helper, when given). A search costs at most two graph
// searches, whatever the filters and the similarity floor leave. Throws vector::GraphDamage
// when the graph file is found damaged.
std::vector<Ranked> vector_units(store::Database& db, const vector::Embedding& embedding,
                                 const VectorView* view, const Query& q, Collector& collector,
                                 std::size_t depth, bool fused, SearchStats& stats,
                                 SharedRescore* share = nullptr) {
    const auto query = embedding.query(db, q.text);
    if (query->empty()) return {};
    // Alone, the vector list is the answer, and its tail counts; fused, it is a second opinion
    // whose tail adds little (see kRescoreExtra).
    const std::size_t rescored = (fused ? depth : 2 * depth) + kRescoreExtra;
    if (view == nullptr ||
        (q.vector_search == Query::VectorSearch::automatic && collector.filtered())) {
        const bool all = view == nullptr;
        const auto stored = collector.allowed_vectors(all ? -1 : kExactLimit + 1,
                                                      vector::code_bytes(embedding.bits()));
        if (all || std::ssize(stored) <= kExactLimit) {
            std::vector<ScoredChunk> scored;
            scored.reserve(stored.size());
            for (const auto& [chunk, v] : stored) {
                scored.push_back({chunk, query->codes().score(
                                             reinterpret_cast<const unsigned char*>(v.data()))});
            }
            stats.codes_scored += std::ssize(scored);
            const auto head = best(scored, rescored);
            stats.rescored += std::ssize(head);
            auto chunks = rescore(db, embedding, *query, head, share);
            return collector.collect(chunks, depth);
        }
    }
    const auto ef = static_cast<std::size_t>(q.ef > 0 ? q.ef : kDefaultEf);
    for (int attempt = 0;; ++attempt) {
        const std::size_t want = attempt == 0 ? rescored : kFilterRetry * rescored;
        // At least twice as wide as the candidates wanted: the codes' graph is coarse, and a
        // narrower search misses good candidates.
        const auto found = view->search(query->codes(), want, std::max(ef, 2 * want));
        ++stats.graph_searches;
        stats.codes_scored += static_cast<std::int64_t>(found.scored + view->fresh.size());
        std::vector<ScoredChunk> scored;
        for (const auto& n : found.nearest) {
            if (!view->fresh.contains(n.label)) scored.push_back({n.label, n.score});
        }
        // Vectors stored since the graph was saved are compared one by one.
        for (const auto& [chunk, v] : view->fresh) {
            scored.push_back(
                {chunk, query->codes().score(reinterpret_cast<const unsigned char*>(v.data()))});
        }
        if (collector.filtered()) {
            std::erase_if(scored, [&](const ScoredChunk& c) { return !collector.passes(c.chunk); });
        }
        const auto head = best(scored, rescored);
        stats.rescored += std::ssize(head);
        auto chunks = rescore(db, embedding, *query, head, std::exchange(share, nullptr));
        auto units = collector.collect(chunks, depth);
        // Only filters make a second search worth it: the graph gives its nearest first, so
        // candidates under the similarity floor mean there are no better ones.
        if (units.size() >= depth || !collector.filtered() || found.nearest.size() < want ||
            attempt > 0) {
            return units;
        }
    }
}

}  // namespace

std::vector<Ranked> vector_units(const Index& index, const Query& q, Collector& collector,
                                 std::size_t depth, bool fused, SearchStats& stats) {
    auto& impl = index.impl();
    const bool graph = may_need_graph(q, vector::read_state(*impl.db).count);
    try {
        return vector_units(*impl.db, impl.embedding(), graph ? &impl.vectors() : nullptr, q,
                            collector, depth, fused, stats);
    } catch (const vector::GraphDamage& e) {
        impl.graph_damaged(e);
        return vector_units(*impl.db, impl.embedding(), graph ? &impl.vectors() : nullptr, q,
                            collector, depth, fused, stats);
    }
}

VectorThread::VectorThread(const Index& index, const Query& q,
                           std::unordered_set<std::int64_t> excluded, std::size_t depth)
    : commits_(store::commit_count(*index.impl().db)), share_(std::make_unique<SharedRescore>()) {
    auto& impl = index.impl();
    // Made here: the thread must not change what this one may use.
    const auto& embedding = impl.embedding();
    const VectorView* view =
        may_need_graph(q, vector::read_state(*impl.db).count) ? &impl.vectors() : nullptr;
    auto work = [this, &impl, &q, &embedding, view, depth,
                 excluded = std::move(excluded)]() mutable {
        struct Close {
            SharedRescore& share;
            util::Gate& finished;
            ~Close() {
                share.close();
                finished.open();
            }
        } const close{*share_, finished_};
        auto& db = impl.second_reader();
        const store::ReadTransaction snapshot(db);
        std::optional<std::vector<Ranked>> out;
        if (store::commit_count(db) != commits_) return out;
        Collector collector(db, q);
        collector.exclude(std::move(excluded));
        out = vector_units(db, embedding, view, q, collector, depth, true, stats_, share_.get());
        return out;
    };
    try {
        result_ = std::async(std::launch::async, std::move(work));
    } catch (const std::system_error&) {
        share_->close();  // no thread: get() says so, and the caller does the work
        finished_.open();
    }
}

VectorThread::~VectorThread() {
    if (result_.valid()) result_.wait();
}

void VectorThread::help(store::Database& db) {
    share_->help(db);
}

std::optional<std::vector<Ranked>> VectorThread::get(SearchStats& stats) {
    if (!result_.valid()) return std::nullopt;
    auto out = result_.get();
    stats.graph_searches += stats_.graph_searches;
    stats.codes_scored += stats_.codes_scored;
    stats.rescored += stats_.rescored;
    return out;
}

}  // namespace rk
