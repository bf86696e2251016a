#include "vector/codec.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace rk::vector {

namespace {

constexpr std::size_t kPlanes = CodeScorer::kPlanes;

#if defined(__x86_64__)
// AVX-512's popcount of 64-bit lanes (Ice Lake and later, Zen 4) counts a 4096-bit code in
// eight steps; GCC's target_clones cannot name this ISA, so the choice is made here, once.
const bool kWidePopcount = __builtin_cpu_supports("avx512vpopcntdq") != 0;

// The sum of a vector's eight 64-bit lanes. (GCC 12's _mm512_reduce_add_epi64 trips its own
// -Wuninitialized.)
__attribute__((target("avx512f"))) std::uint64_t lane_sum(const __m512i& v) {
    std::array<std::uint64_t, 8> lanes{};
    _mm512_storeu_si512(lanes.data(), v);
    std::uint64_t sum = 0;
    for (const auto x : lanes) sum += x;
    return sum;
}

__attribute__((target("avx512f,avx512vpopcntdq"))) std::uint64_t hamming_wide(
    const unsigned char* a, const unsigned char* b, std::size_t bytes) {
    __m512i acc = _mm512_setzero_si512();
    for (std::size_t i = 0; i < bytes; i += 64) {
        const __m512i x = _mm512_loadu_si512(a + i);
        const __m512i y = _mm512_loadu_si512(b + i);
        acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_xor_si512(x, y)));
    }
    return lane_sum(acc);
}

// The popcounts of `code` and of its AND with each of the four planes, 64 bytes at a time.
static_assert(kPlanes == 4);
__attribute__((target("avx512f,avx512vpopcntdq"))) void plane_counts_wide(
    const unsigned char* code, const std::uint64_t* planes, std::size_t words, std::uint64_t& ones,
    std::array<std::uint64_t, kPlanes>& hits) {
    __m512i total = _mm512_setzero_si512();
    __m512i h0 = total, h1 = total, h2 = total, h3 = total;
    for (std::size_t w = 0; w < words; w += 8) {
        const __m512i c = _mm512_loadu_si512(code + 8 * w);
        total = _mm512_add_epi64(total, _mm512_popcnt_epi64(c));
        const __m512i p0 = _mm512_loadu_si512(planes + w);
        const __m512i p1 = _mm512_loadu_si512(planes + words + w);
        const __m512i p2 = _mm512_loadu_si512(planes + 2 * words + w);
        const __m512i p3 = _mm512_loadu_si512(planes + 3 * words + w);
        h0 = _mm512_add_epi64(h0, _mm512_popcnt_epi64(_mm512_and_si512(c, p0)));
        h1 = _mm512_add_epi64(h1, _mm512_popcnt_epi64(_mm512_and_si512(c, p1)));
        h2 = _mm512_add_epi64(h2, _mm512_popcnt_epi64(_mm512_and_si512(c, p2)));
        h3 = _mm512_add_epi64(h3, _mm512_popcnt_epi64(_mm512_and_si512(c, p3)));
    }
    ones = lane_sum(total);
    hits = {lane_sum(h0), lane_sum(h1), lane_sum(h2), lane_sum(h3)};
}
#endif

#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("popcnt", "default")))
#endif
void plane_counts(const unsigned char* code, const std::uint64_t* planes, std::size_t words,
                  std::uint64_t& ones, std::array<std::uint64_t, kPlanes>& hits) {
    for (std::size_t w = 0; w < words; ++w) {
        std::uint64_t c = 0;
        std::memcpy(&c, code + 8 * w, 8);
        ones += static_cast<std::uint64_t>(std::popcount(c));
        for (std::size_t k = 0; k < kPlanes; ++k) {
            hits[k] += static_cast<std::uint64_t>(std::popcount(c & planes[k * words + w]));
        }
    }
}

}  // namespace

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
#if defined(__x86_64__)
    if (kWidePopcount && bytes % 64 == 0)
        return static_cast<std::uint32_t>(hamming_wide(a, b, bytes));
#endif
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

float CodeScorer::score(const unsigned char* code) const {
    std::uint64_t ones = 0;
    std::array<std::uint64_t, kPlanes> hits{};
#if defined(__x86_64__)
    if (kWidePopcount && words_ % 8 == 0) {
        plane_counts_wide(code, planes_.data(), words_, ones, hits);
    } else {
        plane_counts(code, planes_.data(), words_, ones, hits);
    }
#else
    plane_counts(code, planes_.data(), words_, ones, hits);
#endif
    std::uint64_t levels = 0;
    for (int k = 0; k < kPlanes; ++k) levels += hits[k] << k;
    const float set = low_ * static_cast<float>(ones) + step_ * static_cast<float>(levels);
    return 2 * set - total_;
}

}  // namespace rk::vector
