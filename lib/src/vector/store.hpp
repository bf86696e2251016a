// The vectors in rk.db, the source of truth for the graph: one row per chunk with the
// generation that wrote it and its stored vector (code and bag length, see codec.hpp), the
// builtin embedder's n-gram document frequencies, and the current generation (bumped by
// every write that adds or removes vectors).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "embed/builtin.hpp"
#include "store/sqlite.hpp"
#include "vector/graph.hpp"

namespace rk::vector {

constexpr const char* kTables = R"sql(
CREATE TABLE vectors(chunk INTEGER PRIMARY KEY, gen INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE vec_df(bucket INTEGER PRIMARY KEY, df INTEGER NOT NULL);
CREATE TABLE vec_state(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
)sql";

// What the ingest workers compute for a chunk.
struct ChunkVector {
    std::string encoded;                    // code and bag length (codec.hpp)
    std::vector<std::uint32_t> df_buckets;  // distinct
};

// The text a chunk is embedded from, the same at ingest and when its statistics are undone.
std::string embedding_text(std::string_view title, std::string_view heading, std::string_view body);
// Embeds one chunk for storage (a worker calls this; thread-safe).
ChunkVector embed_chunk(const embed::BuiltinEmbedder& embedder, std::string_view text);
// A chunk's vector as stored before (an export's, imported): only its n-grams are counted
// again, for the document frequencies, which the projection does not need. Thread-safe.
ChunkVector kept_chunk(std::string stored, std::string_view text);

struct VectorState {
    std::int64_t generation = 0, count = 0;
};
VectorState read_state(store::Database& db);

// Writes inside the caller's transaction; finish() before it commits.
class VectorWriter {
  public:
    explicit VectorWriter(store::Database& db);
    void add(std::int64_t chunk, const ChunkVector& v);
    // Removes the vectors of a document's chunks (call before the chunks go).
    void remove_document(std::int64_t doc);
    void finish();

  private:
    std::int64_t generation();
    store::Database& db_;
    std::optional<std::int64_t> gen_;  // the generation this transaction writes
    std::int64_t added_ = 0, removed_ = 0;
    std::vector<std::int32_t> df_delta_;
    std::vector<std::uint32_t> touched_;
};

// Recomputes every chunk's vector and the document frequencies (inside a transaction).
void rebuild_vectors(store::Database& db, const embed::BuiltinEmbedder& embedder);

// A query as the vector signal sees it: its grams weighted by their inverse document
// frequency in the index, to score texts exactly, and their projection, to score codes.
struct QueryVector {
    QueryVector(embed::ExactQuery exact_query, const std::vector<float>& projection)
        : exact(std::move(exact_query)), codes(projection) {}
    embed::ExactQuery exact;
    CodeScorer codes;
};
QueryVector embed_query(store::Database& db, const embed::BuiltinEmbedder& embedder,
                        std::string_view text);

// Builds a graph of every stored vector, on all cores.
std::unique_ptr<Graph> build_graph(store::Database& db, std::size_t bits, GraphParams params);
// Brings a graph from its generation to the database's: adds the vectors stored since (those
// it holds already stay), drops removed chunks. Returns the number of changes, or nullopt when
// the graph must be built afresh instead (another vector under a chunk id the graph has held).
std::optional<std::size_t> catch_up(store::Database& db, Graph& graph, VectorState state);

// Problems between the stored vectors and the chunks, and between the graph and them.
void verify_vectors(store::Database& db, const embed::BuiltinEmbedder& embedder, const Graph* graph,
                    std::vector<std::string>& problems);

}  // namespace rk::vector
