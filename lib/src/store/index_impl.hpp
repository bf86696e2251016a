// What an open Index holds. Internal: the rest of the library reaches the database here.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "lexical/segment_file.hpp"
#include "rk/index.hpp"
#include "store/lock.hpp"
#include "store/sqlite.hpp"
#include "text/tokenizer.hpp"
#include "vector/embedding.hpp"
#include "vector/graph.hpp"

namespace rk {

// What a query searches: the graph (mapped from vectors.hnsw, or in memory when it could not
// be saved), and the vectors stored since it was saved when a writer is at work (searched
// exactly; the writer's save folds them in).
struct VectorView {
    const vector::GraphFile* file = nullptr;
    const vector::Graph* memory = nullptr;
    std::unordered_map<std::int64_t, std::string> fresh;  // chunk -> stored vector

    // The graph's best `n` for the query (the fresh vectors are not in it). Throws
    // GraphDamage when the mapped file is found damaged.
    [[nodiscard]] vector::Found search(const vector::CodeScorer& query, std::size_t n,
                                       std::size_t ef) const;
    [[nodiscard]] std::size_t size() const;
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
    // A second connection to rk.db for reads, opened on first use: a query reads on it from
    // a second thread while it reads on `db` in this one. Only that thread may use it.
    store::Database& second_reader() const;
    // The segments' posting files, shared by this Index's queries (any thread).
    lexical::PostingFiles& posting_files() const;
    // After a write's commit: copies new segments' postings into their files and removes
    // those of merged ones (a failure is a note: queries then read rk.db's rows).
    void sync_posting_files() const;
    // Whether the index holds vectors (its embedder is not "none").
    [[nodiscard]] bool has_vectors() const { return settings.embedder != "none"; }
    // How the index's chunks are embedded and scored, opened on first use; only for an index
    // that has vectors. Throws what opening its embedder throws (a model's missing file).
    const vector::Embedding& embedding() const;
    // The dimension of the index's vectors, as its settings record it (0 without vectors).
    [[nodiscard]] int dimension() const;
    // What the settings fix about the stored vectors, without opening the embedder (a model's
    // files, a service): all that writers, the graph and checks need of it.
    [[nodiscard]] const vector::Layout& layout() const;

    // The vector graph in memory as of rk.db's current vectors: vectors.hnsw read and
    // checked whole, caught up if it is behind, rebuilt if it is missing or damaged (with a
    // note naming `damage` when the caller found it), and saved when this process may write.
    // `rebuild` builds it afresh whatever the file holds.
    const vector::Graph& graph(bool rebuild = false, std::string damage = {}) const;
    // For queries: vectors.hnsw mapped when it reflects rk.db; else repaired as graph() does,
    // except that while another process writes, a graph behind rk.db is not caught up
    // (inserting into it would cost every reader what the writer already pays): the vectors
    // stored since are read and searched exactly instead.
    const VectorView& vectors() const;
    // Takes a graph built elsewhere (during an ingest) as this index's; graph() brings it the
    // rest of the way.
    void adopt_graph(std::unique_ptr<vector::Graph> graph) const;
    // A search found the mapped graph damaged: says so and rebuilds it.
    void graph_damaged(const vector::GraphDamage& damage) const;
    // Whether another process holds the writer lock.
    [[nodiscard]] bool writer_at_work() const;

  private:
    mutable std::unique_ptr<text::Tokenizer> tokenizer_;
    mutable std::unique_ptr<store::Database> second_reader_;
    mutable std::mutex posting_files_mu_;
    mutable std::unique_ptr<lexical::PostingFiles> posting_files_;
    mutable std::unique_ptr<vector::Embedding> embedding_;
    mutable std::optional<vector::Layout> layout_;
    mutable std::unique_ptr<vector::Graph> graph_;
    mutable bool graph_unsaved_ = false;  // graph_ was built elsewhere and not saved yet
    mutable std::unique_ptr<vector::GraphFile> file_;
    mutable VectorView view_;
    mutable std::int64_t view_generation_ = -1;
};

}  // namespace rk
