#include "vector/codec.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace rk::vector {

namespace {

// Compiled twice, for AVX2 and for any x86-64, and picked when the library loads: the graph
// spends most of its time here.
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("avx2", "default")))
#endif
std::int32_t
dot_i8(const std::int8_t* a, const std::int8_t* b, std::size_t n) {
    std::int32_t sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
        sum += static_cast<std::int16_t>(a[i]) * static_cast<std::int16_t>(b[i]);
    }
    return sum;
}

#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("avx2", "default")))
#endif
std::int64_t
dot_i16_i8(const std::int16_t* a, const std::int8_t* b, std::size_t n) {
    // 32-bit partial sums cannot overflow within a block of 4096 (4096 * 32767 * 127 < 2^34
    // would; 2^31 / (32767 * 127) = 516), so blocks of 512 are summed into 64 bits.
    std::int64_t total = 0;
    for (std::size_t start = 0; start < n; start += 512) {
        const std::size_t end = std::min(n, start + 512);
        std::int32_t sum = 0;
        for (std::size_t i = start; i < end; ++i) {
            sum += static_cast<std::int32_t>(a[i]) * static_cast<std::int32_t>(b[i]);
        }
        total += sum;
    }
    return total;
}

float scale_of(const char* encoded, std::size_t dimension) {
    float s = 0;
    std::memcpy(&s, encoded + dimension, sizeof s);
    return s;
}

}  // namespace

float distance(const char* x, const char* y, std::size_t n) {
    const auto d =
        dot_i8(reinterpret_cast<const std::int8_t*>(x), reinterpret_cast<const std::int8_t*>(y), n);
    return 1.0F - static_cast<float>(d) * scale_of(x, n) * scale_of(y, n);
}

std::string encode(std::span<const float> v) {
    std::string out(encoded_size(v.size()), '\0');
    float max = 0;
    for (const float x : v) max = std::max(max, std::abs(x));
    const float scale = max > 0 ? max / 127.0F : 0.0F;
    for (std::size_t i = 0; i < v.size(); ++i) {
        const float q = scale > 0 ? std::round(v[i] / scale) : 0.0F;
        out[i] = static_cast<char>(static_cast<std::int8_t>(std::clamp(q, -127.0F, 127.0F)));
    }
    std::memcpy(out.data() + v.size(), &scale, sizeof scale);
    return out;
}

FineQuery::FineQuery(std::span<const float> v) : v_(v.size()) {
    float max = 0;
    for (const float x : v) max = std::max(max, std::abs(x));
    scale_ = max > 0 ? max / 32767.0F : 0.0F;
    for (std::size_t i = 0; i < v.size(); ++i) {
        v_[i] = static_cast<std::int16_t>(scale_ > 0 ? std::lround(v[i] / scale_) : 0);
    }
}

float FineQuery::dot(const char* encoded) const {
    const auto sum =
        dot_i16_i8(v_.data(), reinterpret_cast<const std::int8_t*>(encoded), v_.size());
    return static_cast<float>(static_cast<double>(sum) * scale_ * scale_of(encoded, v_.size()));
}

}  // namespace rk::vector
