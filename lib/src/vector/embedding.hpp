// How an index's chunks become stored vectors, and how a query scores them: one Embedding per
// kind of embedder, so that storage, the graph and the vector signal need not know which.
//
// - The builtin embedder's (builtin.hpp): a code of its bag's random projection and the bag's
//   length; a query scores candidates exactly from their text, weighting its n-grams by their
//   document frequencies, which the index counts.
// - A model's (model2vec, an embedding service): the unit vector itself, as little-endian
//   float32, after a code of its random rotation (the signs of two rounds of random signs and
//   a Walsh-Hadamard transform, padded to a power of two: the RaBitQ code, Gao and Long 2024).
//   A query scores candidates exactly by the dot product of the unit vectors.
//
// Either way a stored vector starts with a binary code of bits() bits, which the HNSW graph
// holds and searches by (graph.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rk/embed.hpp"
#include "store/sqlite.hpp"
#include "vector/codec.hpp"

namespace rk::vector {

// What the ingest workers compute for a chunk.
struct ChunkVector {
    std::string encoded;                    // code, then what exact scores need
    std::vector<std::uint32_t> df_buckets;  // the builtin's distinct n-gram buckets
};

// A query as the vector signal sees it: a projection that scores codes (to find candidates in
// the graph or by a scan), and an exact similarity for the candidates found.
class QueryVector {
  public:
    QueryVector& operator=(const QueryVector&) = delete;
    virtual ~QueryVector() = default;

    [[nodiscard]] const CodeScorer& codes() const { return codes_; }
    // Nothing to search with: no word the embedder knows.
    [[nodiscard]] virtual bool empty() const = 0;
    // A chunk's similarity to the query, higher is nearer (a cosine), from its embedding text
    // (when Embedding::reads_text(); else empty) and its stored vector; nullopt when the
    // stored bytes are not a vector of this embedding.
    [[nodiscard]] virtual std::optional<double> similarity(std::string_view text,
                                                           std::string_view stored) const = 0;
    // A copy for another thread: a query may cache what it scored.
    [[nodiscard]] virtual std::unique_ptr<QueryVector> copy() const = 0;

  protected:
    explicit QueryVector(std::span<const float> projection) : codes_(projection) {}
    QueryVector(const QueryVector&) = default;  // for copy()

  private:
    CodeScorer codes_;
};

class Embedding {
  public:
    Embedding() = default;
    Embedding(const Embedding&) = delete;
    Embedding& operator=(const Embedding&) = delete;
    virtual ~Embedding() = default;

    [[nodiscard]] virtual const Embedder& embedder() const = 0;
    // A code's length in bits (a multiple of 64), which the graph is built over.
    [[nodiscard]] virtual std::size_t bits() const = 0;
    // The bytes of one stored vector.
    [[nodiscard]] virtual std::size_t stored_size() const = 0;
    // Whether ingest workers embed each chunk as they cut it (cheap and local), rather than
    // a round's chunks in one embed() call (a model on all cores, a service's batches).
    [[nodiscard]] virtual bool per_chunk() const = 0;
    // Whether the index counts the chunks' n-gram document frequencies (vec_df).
    [[nodiscard]] virtual bool counts_grams() const = 0;
    // Whether QueryVector::similarity() needs the chunk's text.
    [[nodiscard]] virtual bool reads_text() const = 0;
    // Below this similarity a chunk is no evidence and is left out of the vector list.
    [[nodiscard]] virtual double min_similarity() const = 0;

    // One stored vector per text (replaces `out`). Thread-safe. Throws ServiceError when an
    // embedding service fails.
    virtual void embed(std::span<const std::string_view> texts,
                       std::vector<ChunkVector>& out) const = 0;
    // A vector stored before (an export's), kept for a chunk of `text`. Thread-safe.
    [[nodiscard]] virtual ChunkVector kept(std::string stored, std::string_view text) const = 0;
    // The query's vector, with what `db` knows (document frequencies). Throws ServiceError
    // when an embedding service fails.
    [[nodiscard]] virtual std::unique_ptr<QueryVector> query(store::Database& db,
                                                             std::string_view text) const = 0;
    // What is wrong with chunk `chunk`'s stored vector, given its embedding text, appended to
    // `problems`; the builtin's also adds its n-grams to `df` (kDfBuckets counts).
    virtual void check(std::int64_t chunk, std::string_view text, std::string_view stored,
                       std::vector<std::string>& problems, std::vector<std::int32_t>& df) const = 0;
};

// The embedding of an index whose embedder is `spec` and whose vectors have `dimension`
// dimensions (0: whatever the embedder says; else they must agree), or nullptr for "none".
// Throws UsageError for an unknown spec, IndexError when the embedder's dimension is not the
// index's, and what opening the embedder throws (a model's missing file).
std::unique_ptr<Embedding> make_embedding(std::string_view spec, int dimension);

// The embedding of a model's dense vectors, over `embedder` (for tests, and make_embedding()).
std::unique_ptr<Embedding> dense_embedding(std::unique_ptr<Embedder> embedder);

// What an index's embedder spec and dimension fix about its stored vectors, known without
// opening the embedder (a model's files, a service): what writers, the graph and checks need.
struct Layout {
    std::size_t bits = 0;         // a code's length
    std::size_t stored_size = 0;  // bytes of a stored vector
    bool counts_grams = false;    // vec_df is kept (the builtin embedder)
    bool per_chunk = false;       // vectors cost little to compute again (the builtin)
};
// Throws IndexError for a dimension the spec's kind cannot have (0 or less, too many).
// "none" has the empty layout.
Layout layout(std::string_view spec, int dimension);

}  // namespace rk::vector
