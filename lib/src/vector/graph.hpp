// The HNSW graph over a subset of the stored vectors (hnswlib), and its file, vectors.hnsw:
// a header (magic, format, dimension, graph parameters, the vector generation of rk.db it
// reflects, payload size and XXH3 checksum) followed by hnswlib's own layout of the graph.
// The file is written to a temporary name, synced and renamed, so a reader sees the old
// graph or the new one, never half of one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "vector/codec.hpp"

namespace hnswlib {
template <typename dist_t>
class HierarchicalNSW;
}  // namespace hnswlib

namespace rk::vector {

class Int8Space;

struct GraphParams {
    int m = 16;                 // links per node (twice that on the bottom layer)
    int ef_construction = 100;  // breadth of the search that places a new node
};

class Graph {
  public:
    Graph(std::size_t dimension, GraphParams params, std::size_t capacity);
    ~Graph();
    Graph(const Graph&) = delete;
    Graph& operator=(const Graph&) = delete;

    // Reads and checks a graph file; throws IndexError saying what is wrong with it.
    static std::unique_ptr<Graph> load(const std::filesystem::path& file, std::size_t dimension);
    void save(const std::filesystem::path& file) const;

    // Adds vectors under labels the graph has never held (see knows()), on `threads` threads.
    void add(const std::vector<std::pair<std::int64_t, std::string>>& items, unsigned threads);
    void remove(std::int64_t label);
    [[nodiscard]] bool contains(std::int64_t label) const;
    // Whether the label was ever added, also if removed since.
    [[nodiscard]] bool knows(std::int64_t label) const;

    // The nearest live labels to an encoded query, nearest first, with their distances.
    [[nodiscard]] std::vector<std::pair<std::int64_t, float>> search(const std::string& query,
                                                                     std::size_t k,
                                                                     std::size_t ef) const;
    // The stored vector of a live label, or nullptr.
    [[nodiscard]] const char* vector(std::int64_t label) const;
    // Every live label.
    [[nodiscard]] std::vector<std::int64_t> labels() const;

    [[nodiscard]] std::size_t size() const;     // live vectors
    [[nodiscard]] std::size_t deleted() const;  // removed, still in the graph
    [[nodiscard]] GraphParams params() const { return params_; }

    std::int64_t generation = 0;  // the state of rk.db's vectors the graph reflects

  private:
    std::size_t dimension_;
    GraphParams params_;
    std::unique_ptr<Int8Space> space_;
    std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw_;
};

}  // namespace rk::vector
