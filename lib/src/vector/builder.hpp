// Building the vector graph while ingest goes on. A thread of its own, with its own read
// connection to rk.db, inserts the vectors each commit stores; when the ingest ends, the
// graph it holds takes the place of the index's, and only what it has not seen (the last
// commit, and the removal of replaced chunks) is left to do before the save. On a machine
// whose cores the ingest does not keep busy, that overlaps most of the graph's construction
// with the text's.
#pragma once

#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "vector/graph.hpp"

namespace rk::vector {

class GraphBuilder {
  public:
    // Starts from the graph in `graph_file` when it reflects rk.db as it is now, else from an
    // empty one. `bits`: the codes' length.
    GraphBuilder(const std::filesystem::path& db_file, const std::filesystem::path& graph_file,
                 std::size_t bits, GraphParams params);
    ~GraphBuilder();
    GraphBuilder(const GraphBuilder&) = delete;
    GraphBuilder& operator=(const GraphBuilder&) = delete;

    // New vectors have been committed.
    void committed();
    // Stops the thread and hands over its graph, whose generation is the one it started from
    // (it holds vectors stored since, but still holds those removed since), or nullptr when
    // it could not go on (a chunk id stored again: the graph must then be built afresh) or
    // failed.
    std::unique_ptr<Graph> finish();
    // Why the graph file could not be the start (empty when it was, or there was none); read
    // after finish().
    [[nodiscard]] const std::string& damage() const { return damage_; }

  private:
    void run(const std::filesystem::path& db_file, const std::filesystem::path& graph_file);

    std::size_t bits_;
    GraphParams params_;
    std::unique_ptr<Graph> graph_;
    bool usable_ = true;
    std::string damage_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool pending_ = false, stop_ = false;
    std::thread thread_;
};

}  // namespace rk::vector
