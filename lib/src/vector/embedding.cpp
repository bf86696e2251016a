#include "vector/embedding.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_map>

#include "embed/builtin.hpp"
#include "embed/registry.hpp"
#include "rk/error.hpp"
#include "util/hadamard.hpp"
#include "vector/store.hpp"

namespace rk::vector {

namespace {

static_assert(std::endian::native == std::endian::little,
              "stored vectors are little-endian float32, copied as they are");

// --- The builtin embedder's vectors -------------------------------------------------------

class BuiltinQuery final : public QueryVector {
  public:
    BuiltinQuery(embed::ExactQuery exact, const std::vector<float>& projection, std::size_t bits)
        : QueryVector(projection), exact_(std::move(exact)), bits_(bits) {}
    BuiltinQuery(const BuiltinQuery&) = default;
    BuiltinQuery& operator=(const BuiltinQuery&) = delete;
    ~BuiltinQuery() override = default;

    [[nodiscard]] bool empty() const override { return exact_.empty(); }
    [[nodiscard]] std::optional<double> similarity(std::string_view text,
                                                   std::string_view stored) const override {
        if (stored.size() != vector::stored_size(bits_)) return std::nullopt;
        return exact_.cosine(text, stored_norm(stored, bits_));
    }
    [[nodiscard]] std::unique_ptr<QueryVector> copy() const override {
        return std::make_unique<BuiltinQuery>(*this);
    }

  private:
    embed::ExactQuery exact_;
    std::size_t bits_;
};

class BuiltinEmbedding final : public Embedding {
  public:
    explicit BuiltinEmbedding(std::unique_ptr<Embedder> made)
        : embedder_(made->dimension()), bits_(static_cast<std::size_t>(made->dimension())) {}

    [[nodiscard]] const Embedder& embedder() const override { return embedder_; }
    [[nodiscard]] std::size_t bits() const override { return bits_; }
    [[nodiscard]] std::size_t stored_size() const override { return vector::stored_size(bits_); }
    [[nodiscard]] bool per_chunk() const override { return true; }
    [[nodiscard]] bool counts_grams() const override { return true; }
    [[nodiscard]] bool reads_text() const override { return true; }
    // Text sharing nothing with the query still shares some n-grams: such texts score under
    // 0.06 on the shared datasets, while real matches score 0.25 and up. Below this cosine a
    // text is no evidence, and a query for a word found nowhere finds nothing.
    [[nodiscard]] double min_similarity() const override { return 0.1; }

    void embed(std::span<const std::string_view> texts,
               std::vector<ChunkVector>& out) const override {
        [[gnu::tls_model("initial-exec")]] thread_local std::vector<embed::Gram> grams;
        [[gnu::tls_model("initial-exec")]] thread_local std::vector<float> v;
        out.resize(texts.size());
        for (std::size_t i = 0; i < texts.size(); ++i) {
            embed::BuiltinEmbedder::grams(texts[i], grams);
            v.resize(bits_);
            embedder_.project(
                grams, [](const embed::Gram&) { return 1.0F; }, v);
            out[i].encoded = encode(v, embed::BuiltinEmbedder::norm(grams));
            distinct_buckets(grams, out[i].df_buckets);
        }
    }

    [[nodiscard]] ChunkVector kept(std::string stored, std::string_view text) const override {
        [[gnu::tls_model("initial-exec")]] thread_local std::vector<embed::Gram> grams;
        embed::BuiltinEmbedder::grams(text, grams);
        ChunkVector out;
        out.encoded = std::move(stored);
        distinct_buckets(grams, out.df_buckets);
        return out;
    }

    [[nodiscard]] std::unique_ptr<QueryVector> query(store::Database& db,
                                                     std::string_view text) const override {
        std::vector<embed::Gram> grams;
        embed::BuiltinEmbedder::grams(text, grams);
        const auto n = static_cast<double>(read_state(db).count);
        auto& df = db.cached("SELECT df FROM vec_df WHERE bucket = ?1");
        std::unordered_map<std::uint32_t, float> idf;
        for (const auto& g : grams) {
            const auto b = embed::df_bucket(g.hash);
            if (idf.contains(b)) continue;
            df.bind(1, std::int64_t{b});
            const double d = df.step() ? static_cast<double>(df.int64(0)) : 0.0;
            df.reset();
            idf[b] = static_cast<float>(std::log(1.0 + (n - d + 0.5) / (d + 0.5)));
        }
        auto weight = [&](const embed::Gram& g) {
            return n > 0 ? idf[embed::df_bucket(g.hash)] : 1.0F;
        };
        std::vector<float> v(bits_);
        embedder_.project(grams, weight, v);
        return std::make_unique<BuiltinQuery>(embed::ExactQuery(grams, weight), v, bits_);
    }

    void check(std::int64_t chunk, std::string_view text, std::string_view stored,
               std::vector<std::string>& problems, std::vector<std::int32_t>& df) const override {
        std::vector<ChunkVector> expected;
        embed({&text, 1}, expected);
        for (const auto b : expected[0].df_buckets) ++df[b];
        if (stored != expected[0].encoded) {
            problems.push_back(fmt::format("chunk {}'s vector differs from its text's", chunk));
        }
    }

  private:
    embed::BuiltinEmbedder embedder_;
    std::size_t bits_;
};

// --- A model's dense vectors --------------------------------------------------------------

// Past this, a dimension is more likely a service's mistake than a model's.
constexpr int kMaxDimension = 65536;

// A code's length for vectors of `dimension` components: the power of two they are padded to.
std::size_t dense_bits(int dimension) {
    return std::max<std::size_t>(64, std::bit_ceil(static_cast<std::size_t>(dimension)));
}

std::size_t dense_stored_size(int dimension) {
    return code_bytes(dense_bits(dimension)) + sizeof(float) * static_cast<std::size_t>(dimension);
}

// Scales `v` to unit length; false when it is all zero. Throws Error for a component that is
// not finite, which no embedder should give.
bool normalise(std::span<float> v, const Embedder& embedder) {
    double sum = 0;
    for (const float x : v) {
        if (!std::isfinite(x)) {
            throw Error(
                fmt::format("embedder '{}' gave a vector with a component that is not a "
                            "finite number",
                            embedder.spec()));
        }
        sum += double{x} * x;
    }
    if (sum <= 0) return false;
    const auto scale = static_cast<float>(1.0 / std::sqrt(sum));
    for (float& x : v) x *= scale;
    return true;
}

class DenseQuery final : public QueryVector {
  public:
    DenseQuery(std::vector<float> unit, const std::vector<float>& rotated, std::size_t bits)
        : QueryVector(rotated), unit_(std::move(unit)), bits_(bits) {}
    DenseQuery(const DenseQuery&) = default;
    DenseQuery& operator=(const DenseQuery&) = delete;
    ~DenseQuery() override = default;

    [[nodiscard]] bool empty() const override { return unit_.empty(); }
    [[nodiscard]] std::optional<double> similarity(std::string_view /*text*/,
                                                   std::string_view stored) const override {
        const std::size_t at = code_bytes(bits_);
        if (stored.size() != at + sizeof(float) * unit_.size()) return std::nullopt;
        double dot = 0;
        for (std::size_t i = 0; i < unit_.size(); ++i) {
            float x = 0;
            std::memcpy(&x, stored.data() + at + sizeof(float) * i, sizeof x);
            dot += double{x} * unit_[i];
        }
        return dot;
    }
    [[nodiscard]] std::unique_ptr<QueryVector> copy() const override {
        return std::make_unique<DenseQuery>(*this);
    }

  private:
    std::vector<float> unit_;  // empty when the query has nothing to search with
    std::size_t bits_;
};

class DenseEmbedding final : public Embedding {
  public:
    explicit DenseEmbedding(std::unique_ptr<Embedder> embedder)
        : embedder_(std::move(embedder)),
          dimension_(static_cast<std::size_t>(embedder_->dimension())),
          bits_(dense_bits(embedder_->dimension())),
          signs1_(bits_),
          signs2_(bits_) {
        // Fixed random signs (splitmix64 of the position): the same rotation on every machine.
        auto mix = [](std::uint64_t x) {
            x += 0x9E3779B97F4A7C15ULL;
            x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
            x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
            return x ^ (x >> 31);
        };
        for (std::size_t i = 0; i < bits_; ++i) {
            signs1_[i] = (mix(i) & 1U) != 0 ? 1.0F : -1.0F;
            signs2_[i] = (mix(i + 0x632BE59BD9B4E019ULL) & 1U) != 0 ? 1.0F : -1.0F;
        }
    }

    [[nodiscard]] const Embedder& embedder() const override { return *embedder_; }
    [[nodiscard]] std::size_t bits() const override { return bits_; }
    [[nodiscard]] std::size_t stored_size() const override {
        return dense_stored_size(static_cast<int>(dimension_));
    }
    [[nodiscard]] bool per_chunk() const override { return false; }
    [[nodiscard]] bool counts_grams() const override { return false; }
    [[nodiscard]] bool reads_text() const override { return false; }
    // A model's cosines have no common scale: every chunk is evidence, ranked by its cosine.
    [[nodiscard]] double min_similarity() const override {
        return -std::numeric_limits<double>::infinity();
    }

    void embed(std::span<const std::string_view> texts,
               std::vector<ChunkVector>& out) const override {
        std::vector<float> all(texts.size() * dimension_);
        if (!texts.empty()) embedder_->embed(texts, all);
        out.resize(texts.size());
        for (std::size_t i = 0; i < texts.size(); ++i) {
            const std::span<float> v(all.data() + i * dimension_, dimension_);
            (void)normalise(v, *embedder_);
            out[i].encoded = encode_dense(v);
            out[i].df_buckets.clear();
        }
    }

    [[nodiscard]] ChunkVector kept(std::string stored, std::string_view /*text*/) const override {
        return {std::move(stored), {}};
    }

    [[nodiscard]] std::unique_ptr<QueryVector> query(store::Database& /*db*/,
                                                     std::string_view text) const override {
        std::vector<float> unit(dimension_);
        embedder_->embed_query(text, unit);
        if (!normalise(unit, *embedder_)) unit.clear();
        std::vector<float> rotated(bits_, 0.0F);
        if (!unit.empty()) rotate(unit, rotated);
        return std::make_unique<DenseQuery>(std::move(unit), rotated, bits_);
    }

    void check(std::int64_t chunk, std::string_view /*text*/, std::string_view stored,
               std::vector<std::string>& problems,
               std::vector<std::int32_t>& /*df*/) const override {
        if (stored.size() != stored_size()) {
            problems.push_back(fmt::format("chunk {}'s vector has {} bytes, not {}", chunk,
                                           stored.size(), stored_size()));
            return;
        }
        std::vector<float> v(dimension_);
        std::memcpy(v.data(), stored.data() + code_bytes(bits_), sizeof(float) * dimension_);
        double sum = 0;
        for (const float x : v) sum += std::isfinite(x) ? double{x} * x : 1e9;
        if (sum != 0 && std::abs(sum - 1) > 1e-3) {
            problems.push_back(fmt::format("chunk {}'s vector is not of unit length", chunk));
        } else if (stored.substr(0, code_bytes(bits_)) !=
                   std::string_view(encode_dense(v)).substr(0, code_bytes(bits_))) {
            problems.push_back(fmt::format("chunk {}'s code differs from its vector's", chunk));
        }
    }

  private:
    // The random rotation of a unit vector, padded with zeros to bits_ components.
    void rotate(std::span<const float> unit, std::span<float> out) const {
        std::fill(out.begin(), out.end(), 0.0F);
        std::copy(unit.begin(), unit.end(), out.begin());
        for (std::size_t i = 0; i < bits_; ++i) out[i] *= signs1_[i];
        util::walsh_hadamard(out.data(), bits_);
        for (std::size_t i = 0; i < bits_; ++i) out[i] *= signs2_[i];
        util::walsh_hadamard(out.data(), bits_);
    }

    // The code of the vector's rotation, then the vector.
    [[nodiscard]] std::string encode_dense(std::span<const float> unit) const {
        [[gnu::tls_model("initial-exec")]] thread_local std::vector<float> rotated;
        rotated.resize(bits_);
        rotate(unit, rotated);
        std::string out(stored_size(), '\0');
        for (std::size_t byte = 0; byte < code_bytes(bits_); ++byte) {
            unsigned v = 0;
            for (unsigned b = 0; b < 8; ++b) v |= (rotated[8 * byte + b] > 0 ? 1U : 0U) << b;
            out[byte] = static_cast<char>(v);
        }
        std::memcpy(out.data() + code_bytes(bits_), unit.data(), sizeof(float) * dimension_);
        return out;
    }

    std::unique_ptr<Embedder> embedder_;
    std::size_t dimension_, bits_;
    std::vector<float> signs1_, signs2_;
};

}  // namespace

std::unique_ptr<Embedding> make_embedding(std::string_view spec, int dimension) {
    auto made = embed::open_embedder(spec, dimension);
    if (!made) return nullptr;
    if (dimension != 0 && made->dimension() != dimension) {
        throw IndexError(
            fmt::format("the index's vectors have {} dimensions, but its embedder "
                        "'{}' makes {}: the model changed since the index was made",
                        dimension, spec, made->dimension()));
    }
    if (embed::is_builtin(spec)) return std::make_unique<BuiltinEmbedding>(std::move(made));
    return dense_embedding(std::move(made));
}

std::unique_ptr<Embedding> dense_embedding(std::unique_ptr<Embedder> embedder) {
    if (embedder->dimension() < 1 || embedder->dimension() > kMaxDimension) {
        throw Error(fmt::format("embedder '{}' makes vectors of {} dimensions (rk takes 1 to {})",
                                embedder->spec(), embedder->dimension(), kMaxDimension));
    }
    return std::make_unique<DenseEmbedding>(std::move(embedder));
}

Layout layout(std::string_view spec, int dimension) {
    if (spec == "none") return {};
    if (dimension < 1 || dimension > kMaxDimension) {
        throw IndexError(
            fmt::format("the index's vectors have {} dimensions, which embedder "
                        "'{}' cannot make",
                        dimension, spec));
    }
    const auto d = static_cast<std::size_t>(dimension);
    if (embed::is_builtin(spec)) {
        if (d % 64 != 0) {
            throw IndexError(
                fmt::format("the index's vectors have {} dimensions, which embedder "
                            "'{}' cannot make",
                            dimension, spec));
        }
        return {d, stored_size(d), true, true};
    }
    return {dense_bits(dimension), dense_stored_size(dimension), false, false};
}

}  // namespace rk::vector
