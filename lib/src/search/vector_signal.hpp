// The vector signal of a query: candidates from the chunks' codes (all of them, or the
// HNSW graph's nearest), the best scored exactly from their text (see bench/README.md).
#pragma once

#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <unordered_set>
#include <vector>

#include "rk/index.hpp"
#include "rk/search.hpp"
#include "search/collector.hpp"
#include "store/sqlite.hpp"
#include "util/gate.hpp"

namespace rk {

// The vector signal's best `depth` units for `q`, read on the index's own connection (and
// the graph repaired, with a note, when a search finds its file damaged). `fused`: the list
// will be fused with BM25's, which needs fewer of its candidates scored exactly.
std::vector<Ranked> vector_units(const Index& index, const Query& q, Collector& collector,
                                 std::size_t depth, bool fused, SearchStats& stats);

class SharedRescore;

// The vector signal of a hybrid query, read on the index's second connection in a thread of
// its own while the caller reads BM25's on the first; when BM25 is done, the caller helps
// score the vector candidates exactly. Start it inside a read transaction the caller began
// (ReadTransaction::owned()).
class VectorThread {
  public:
    // `excluded`: the documents the query leaves out (see Collector::exclude).
    VectorThread(const Index& index, const Query& q, std::unordered_set<std::int64_t> excluded,
                 std::size_t depth);
    VectorThread(const VectorThread&) = delete;
    VectorThread& operator=(const VectorThread&) = delete;
    // Waits for the thread: it uses this object.
    ~VectorThread();

    // Helps score the candidates, reading on the index's first connection; returns when
    // there is nothing left to take. Rethrows what failed here (the thread scores the rest).
    void help(store::Database& db);

    // Waits for the units; rethrows what the thread threw (vector::GraphDamage among them).
    // nullopt when the second connection's snapshot is not the first's (a writer committed
    // in between) or no thread could be started: the caller then runs the signal itself.
    std::optional<std::vector<Ranked>> get(SearchStats& stats);

    // Opens when the thread is done (or was never started).
    util::Gate& finished() { return finished_; }

  private:
    std::int64_t commits_;
    SearchStats stats_;
    std::unique_ptr<SharedRescore> share_;
    util::Gate finished_;
    std::future<std::optional<std::vector<Ranked>>> result_;
};

}  // namespace rk
