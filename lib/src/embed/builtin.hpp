// The builtin embedder: hashed character 3- and 4-grams of each word (stop words left out),
// weighted 1 + ln tf, signed feature hashing into N dimensions, unit length. It needs no
// model and no network and is the same on every machine.
//
// Documents are embedded without corpus statistics, so their vectors never go stale. A query
// weights each of its n-grams by the n-gram's inverse document frequency in the index, which
// is what lets the vectors beat BM25 when fused with it (see bench/README.md).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "rk/embed.hpp"

namespace rk::embed {

// An n-gram's hash and its count in the text.
struct Gram {
    std::uint64_t hash = 0;
    std::uint32_t count = 0;
};

// Document frequencies are counted per bucket of 2^18, indexed by another part of the hash
// than the one that picks a dimension.
constexpr std::uint32_t kDfBuckets = 1U << 18;
inline std::uint32_t df_bucket(std::uint64_t hash) {
    return static_cast<std::uint32_t>(hash >> 20) & (kDfBuckets - 1);
}

class BuiltinEmbedder final : public Embedder {
  public:
    static constexpr int kDefaultDimension = 4096;
    explicit BuiltinEmbedder(int dimension = kDefaultDimension);

    [[nodiscard]] std::string spec() const override;
    [[nodiscard]] int dimension() const override { return dimension_; }
    void embed(std::span<const std::string_view> texts, std::span<float> out) const override;

    // The text's distinct n-grams with their counts (replaces `out`).
    static void grams(std::string_view text, std::vector<Gram>& out);
    // Sums the grams into `out` (dimension() floats), each weighted (1 + ln count) * weight(g),
    // then scales to unit length.
    void project(std::span<const Gram> grams, const std::function<float(const Gram&)>& weight,
                 std::span<float> out) const;

  private:
    int dimension_;
};

}  // namespace rk::embed
