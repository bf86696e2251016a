// What an open Index holds. Internal: the rest of the library reaches the database here.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "embed/builtin.hpp"
#include "rk/index.hpp"
#include "store/lock.hpp"
#include "store/sqlite.hpp"
#include "text/tokenizer.hpp"
#include "vector/graph.hpp"

namespace rk {

// What a query searches: the graph, and the vectors stored since it was saved when a writer
// is at work (searched exactly; the writer's save folds them in).
struct VectorView {
    const vector::Graph* graph = nullptr;
    std::unordered_map<std::int64_t, std::string> fresh;  // chunk -> encoded vector

    // A chunk's vector (the fresh one if it was stored again), or nullptr.
    [[nodiscard]] const char* vector(std::int64_t chunk) const;
    [[nodiscard]] std::vector<std::int64_t> labels() const;
    [[nodiscard]] std::size_t size() const { return graph->size() + fresh.size(); }
};

struct Index::Impl {
    std::filesystem::path dir;
    Settings settings;
    Mode mode = Mode::read;
    std::optional<store::WriterLock> lock;  // held for a writer's lifetime, taken first
    std::unique_ptr<store::Database> db;
    std::function<void(const std::string&)> note;  // messages for the user (stderr in rk)

    // The index's tokenizer, made on first use, for work on the thread using this Index.
    text::Tokenizer& query_tokenizer() const;
    // Whether the index holds vectors (its embedder is not "none").
    [[nodiscard]] bool has_vectors() const { return settings.embedder != "none"; }
    // The index's embedder; only for an index that has vectors.
    const embed::BuiltinEmbedder& embedder() const;

    // The vector graph as of rk.db's current vectors: vectors.hnsw loaded, caught up if it is
    // behind, rebuilt if it is missing or damaged (with a note), and saved when this process
    // may write. `rebuild` builds it afresh whatever the file holds.
    const vector::Graph& graph(bool rebuild = false) const;
    // For queries: like graph(), except that while another process writes, a graph behind
    // rk.db is not caught up (inserting into it would cost every reader what the writer
    // already pays); the vectors stored since are read and searched exactly instead.
    const VectorView& vectors() const;

  private:
    mutable std::unique_ptr<text::Tokenizer> tokenizer_;
    mutable std::unique_ptr<embed::BuiltinEmbedder> embedder_;
    mutable std::unique_ptr<vector::Graph> graph_;
    mutable VectorView view_;
    mutable std::int64_t view_generation_ = -1;
};

}  // namespace rk
