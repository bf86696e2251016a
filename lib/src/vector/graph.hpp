// The HNSW graph over the chunks' codes (Malkov and Yashunin 2018), and its file,
// vectors.hnsw. Writers build and change the graph in memory with hnswlib (Graph) and save it
// to a temporary name, synced and renamed, so a reader sees the old graph or the new one,
// never half of one. Readers map the file (GraphFile) and search it in place: opening reads
// the header alone, whatever the graph's size, and each node's checksum is checked the first
// time a search reaches the node, so damage is found where it is read; `rk index verify`
// checks every node (Graph::load).
//
// The file: a header (magic, format, code size, graph parameters, the vector generation of
// rk.db it reflects, section offsets, its own checksum); each node's level-0 record as
// hnswlib lays it out (link count and deleted mark, 2M links, code, label); per node, where
// its upper-layer link lists start and its level; the upper-layer lists; per node, an XXH3
// checksum of its record, its level entry and its upper lists.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "rk/error.hpp"
#include "vector/codec.hpp"

namespace rk::util {
class MappedFile;
}  // namespace rk::util

namespace hnswlib {
template <typename dist_t>
class HierarchicalNSW;
}  // namespace hnswlib

namespace rk::vector {

class HammingSpace;

// A narrow construction search builds the graph quickly; queries search it at least twice as
// wide as the candidates they want, which makes up for it (see bench/README.md).
struct GraphParams {
    int m = 16;                // links per node (twice that on the bottom layer)
    int ef_construction = 40;  // breadth of the search that places a new node
};

// A chunk the graph found, with its code's score against the query (higher is nearer).
struct Neighbor {
    std::int64_t label = 0;
    float score = 0;
};

// What a search found, and how many codes it compared with the query to find it.
struct Found {
    std::vector<Neighbor> nearest;  // best first
    std::size_t scored = 0;
};

// What a search found wrong in a graph file: the file must be rebuilt.
class GraphDamage : public IndexError {
  public:
    using IndexError::IndexError;
};

// The most codes one search scores, whatever the graph holds (removed nodes stay in it as
// waypoints until it is rebuilt): a search stops there with what it found.
constexpr std::size_t kMaxScored = 200000;

class Graph {
  public:
    // `bits`: the codes' length.
    Graph(std::size_t bits, GraphParams params, std::size_t capacity);
    ~Graph();
    Graph(const Graph&) = delete;
    Graph& operator=(const Graph&) = delete;

    // Reads a graph file whole, checking every byte and link; throws IndexError saying what
    // is wrong with it.
    static std::unique_ptr<Graph> load(const std::filesystem::path& file, std::size_t bits);
    void save(const std::filesystem::path& file) const;

    // Adds codes (code_bytes(bits) each) under labels the graph has never held (see
    // knows()), on `threads` threads.
    void add(const std::vector<std::pair<std::int64_t, std::string>>& items, unsigned threads);
    void remove(std::int64_t label);
    // Whether the label was ever added, also if removed since.
    [[nodiscard]] bool knows(std::int64_t label) const;
    // The code of a live label, or nullptr.
    [[nodiscard]] const unsigned char* code(std::int64_t label) const;
    // Every live label.
    [[nodiscard]] std::vector<std::int64_t> labels() const;
    // The `n` live labels whose codes score best, best first, looking `ef` wide.
    [[nodiscard]] Found search(const CodeScorer& query, std::size_t n, std::size_t ef) const;

    [[nodiscard]] std::size_t size() const;     // live codes
    [[nodiscard]] std::size_t deleted() const;  // removed, still in the graph
    [[nodiscard]] GraphParams params() const { return params_; }
    [[nodiscard]] std::size_t code_bytes() const { return vector::code_bytes(bits_); }

    std::int64_t generation = 0;  // the state of rk.db's vectors the graph reflects

  private:
    std::size_t bits_;
    GraphParams params_;
    std::unique_ptr<HammingSpace> space_;
    std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw_;
};

class GraphFile {
  public:
    // Maps `file` and checks its header; throws IndexError saying what is wrong with it.
    static std::unique_ptr<GraphFile> open(const std::filesystem::path& file, std::size_t bits);
    ~GraphFile();
    GraphFile(const GraphFile&) = delete;
    GraphFile& operator=(const GraphFile&) = delete;

    [[nodiscard]] std::int64_t generation() const;
    [[nodiscard]] std::size_t size() const;  // live codes
    // As Graph::search. Throws GraphDamage when a node it reaches fails its checksum or
    // links outside the graph.
    [[nodiscard]] Found search(const CodeScorer& query, std::size_t n, std::size_t ef) const;

    struct Layout;

  private:
    GraphFile() = default;
    std::unique_ptr<util::MappedFile> map_;
    std::unique_ptr<Layout> layout_;
};

// The generation a graph file reflects, from its header alone; -1 if it cannot be read.
std::int64_t file_generation(const std::filesystem::path& file);

}  // namespace rk::vector
