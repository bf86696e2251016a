// The vectors in rk.db, the source of truth for the graph: one row per chunk with the
// generation that wrote it and its stored vector (embedding.hpp), the builtin embedder's
// n-gram document frequencies, and the current generation (bumped by
// every write that adds or removes vectors).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "embed/builtin.hpp"
#include "store/sqlite.hpp"
#include "vector/embedding.hpp"
#include "vector/graph.hpp"

namespace rk::vector {

constexpr const char* kTables = R"sql(
CREATE TABLE vectors(chunk INTEGER PRIMARY KEY, gen INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE vec_df(bucket INTEGER PRIMARY KEY, df INTEGER NOT NULL);
CREATE TABLE vec_state(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
)sql";

// The text a chunk is embedded from, the same at ingest and when its statistics are undone.
std::string embedding_text(std::string_view title, std::string_view heading, std::string_view body);

// The document-frequency buckets of distinct grams, each once (in no particular order).
void distinct_buckets(const std::vector<embed::Gram>& grams, std::vector<std::uint32_t>& out);

struct VectorState {
    std::int64_t generation = 0, count = 0;
};
VectorState read_state(store::Database& db);

// Writes inside the caller's transaction; finish() before it commits.
class VectorWriter {
  public:
    // `count_grams`: whether the embedding counts n-gram document frequencies (vec_df).
    VectorWriter(store::Database& db, bool count_grams);
    void add(std::int64_t chunk, const ChunkVector& v);
    // Removes the vectors of a document's chunks (call before the chunks go).
    void remove_document(std::int64_t doc);
    // Removes the vectors of no chunk and those not `stored_size` bytes long (not for an
    // embedding that counts n-grams); returns how many.
    std::int64_t remove_unfit(std::size_t stored_size);
    void finish();

  private:
    std::int64_t generation();
    void uncount_grams(std::int64_t doc);
    store::Database& db_;
    bool count_grams_;
    std::optional<std::int64_t> gen_;  // the generation this transaction writes
    std::int64_t added_ = 0, removed_ = 0;
    std::vector<std::int32_t> df_delta_;
    std::vector<std::uint32_t> touched_;
};

// Embeds every chunk again (inside a transaction).
void rebuild_vectors(store::Database& db, const Embedding& embedding);
// Puts right what verify_vectors() finds wrong with the stored vectors without embedding every
// chunk again (inside a transaction): vectors of no chunk or of the wrong size go, and the
// chunks without one are embedded (`embedding` is called for only then). Returns the number
// of vectors removed or added.
std::int64_t repair_vectors(store::Database& db, const Layout& layout,
                            const std::function<const Embedding&()>& embedding);

// Builds a graph of every stored vector, on all cores (for a damaged, missing or mostly
// removed graph: its links may differ from one build to the next).
std::unique_ptr<Graph> build_graph(store::Database& db, std::size_t bits, GraphParams params);
// Brings a graph from its generation to the database's: adds the vectors stored since (those
// it holds already stay) in chunk order on one thread, as the background builder does, so
// that the same chunks make the same graph however many ingests or batches stored them;
// drops removed chunks. Returns the number of changes, or nullopt when the graph must be
// built afresh instead (another vector under a chunk id the graph has held).
std::optional<std::size_t> catch_up(store::Database& db, Graph& graph, VectorState state);

// Problems between the stored vectors and the chunks, and between the graph and them.
void verify_vectors(store::Database& db, const Embedding& embedding, const Graph* graph,
                    std::vector<std::string>& problems);

}  // namespace rk::vector
