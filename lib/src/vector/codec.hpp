// Vectors as stored: a binary code (the signs of a projection, bit i of byte i / 8 set when
// component i is positive) and, after it, the length of the text's bag of grams as a
// little-endian float, which the exact re-scoring needs. At the default 4096 bits that is 516
// bytes a chunk.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rk::vector {

inline std::size_t code_bytes(std::size_t bits) {
    return bits / 8;
}
inline std::size_t stored_size(std::size_t bits) {
    return code_bytes(bits) + sizeof(float);
}

// The stored form of a projection (bits = its length, a multiple of 64) and a bag's length.
std::string encode(std::span<const float> projection, float norm);
// The bag length kept after the code; `stored` must be stored_size(bits) bytes.
float stored_norm(std::string_view stored, std::size_t bits);

// Bits in which two codes of `bytes` bytes differ: the graph's distance between them.
std::uint32_t hamming(const unsigned char* a, const unsigned char* b, std::size_t bytes);

// A query's projection scoring codes asymmetrically: the sum of its components, each taken
// with the sign the code gives it. Higher is nearer. The components are quantised to
// kPlanes bits and kept as bit planes, so that a score is kPlanes popcounts a 64-bit word of
// code (the query side of RaBitQ, Gao and Long 2024).
class CodeScorer {
  public:
    static constexpr int kPlanes = 4;
    explicit CodeScorer(std::span<const float> projection);
    [[nodiscard]] float score(const unsigned char* code) const;
    [[nodiscard]] std::size_t bytes() const { return words_ * 8; }

  private:
    std::size_t words_;
    std::vector<std::uint64_t> planes_;     // kPlanes planes of words_ words: bit b of level k
    float step_ = 0, low_ = 0, total_ = 0;  // component = low_ + step_ * level
};

}  // namespace rk::vector
