#include "vector/codec.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>

namespace rk::vector {

std::string encode(std::span<const float> projection, float norm) {
    std::string out(stored_size(projection.size()), '\0');
    for (std::size_t byte = 0; byte < code_bytes(projection.size()); ++byte) {
        unsigned v = 0;
        for (unsigned b = 0; b < 8; ++b) v |= (projection[8 * byte + b] > 0 ? 1U : 0U) << b;
        out[byte] = static_cast<char>(v);
    }
    std::memcpy(out.data() + code_bytes(projection.size()), &norm, sizeof norm);
    return out;
}

float stored_norm(std::string_view stored, std::size_t bits) {
    float norm = 0;
    if (stored.size() == stored_size(bits)) {
        std::memcpy(&norm, stored.data() + code_bytes(bits), sizeof norm);
    }
    return norm;
}

// Compiled twice, for x86-64's popcnt and for any x86-64, and picked when the library loads:
// building the graph spends most of its time here.
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("popcnt", "default")))
#endif
std::uint32_t
hamming(const unsigned char* a, const unsigned char* b, std::size_t bytes) {
    std::uint32_t sum = 0;
    std::size_t i = 0;
    for (; i + 8 <= bytes; i += 8) {
        std::uint64_t x = 0, y = 0;
        std::memcpy(&x, a + i, 8);
        std::memcpy(&y, b + i, 8);
        sum += static_cast<std::uint32_t>(std::popcount(x ^ y));
    }
    for (; i < bytes; ++i) {
        sum += static_cast<std::uint32_t>(std::popcount(static_cast<unsigned>(a[i] ^ b[i])));
    }
    return sum;
}

CodeScorer::CodeScorer(std::span<const float> projection)
    : words_(projection.size() / 64), planes_(kPlanes * words_, 0) {
    float lo = 0, hi = 0;
    for (const float x : projection) {
        lo = std::min(lo, x);
        hi = std::max(hi, x);
    }
    constexpr int kLevels = (1 << kPlanes) - 1;
    low_ = lo;
    step_ = hi > lo ? (hi - lo) / kLevels : 0;
    std::uint64_t level_sum = 0;
    for (std::size_t i = 0; i < words_ * 64; ++i) {
        const auto level =
            static_cast<std::uint64_t>(step_ > 0 ? std::lround((projection[i] - lo) / step_) : 0);
        level_sum += level;
        for (int k = 0; k < kPlanes; ++k) {
            if (((level >> k) & 1U) != 0)
                planes_[k * words_ + i / 64] |= std::uint64_t{1} << (i % 64);
        }
    }
    // The sum of all components, each with its sign + or -, is twice the sum over the set bits
    // less the sum of all.
    total_ = static_cast<float>(words_ * 64) * low_ + step_ * static_cast<float>(level_sum);
}

#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("popcnt", "default")))
#endif
float CodeScorer::score(const unsigned char* code) const {
    std::uint64_t ones = 0;
    std::array<std::uint64_t, kPlanes> hits{};
    for (std::size_t w = 0; w < words_; ++w) {
        std::uint64_t c = 0;
        std::memcpy(&c, code + 8 * w, 8);
        ones += static_cast<std::uint64_t>(std::popcount(c));
        for (int k = 0; k < kPlanes; ++k) {
            hits[k] += static_cast<std::uint64_t>(std::popcount(c & planes_[k * words_ + w]));
        }
    }
    std::uint64_t levels = 0;
    for (int k = 0; k < kPlanes; ++k) levels += hits[k] << k;
    const float set = low_ * static_cast<float>(ones) + step_ * static_cast<float>(levels);
    return 2 * set - total_;
}

}  // namespace rk::vector
