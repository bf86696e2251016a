#include "util/hadamard.hpp"

namespace rk::util {

// The first three levels within each run of 8, the rest across runs, where the compiler
// vectorises the inner loop. Compiled for AVX2 and for any x86-64, picked at load.
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("avx2", "default")))
#endif
void walsh_hadamard(float* p, std::size_t n) {
    for (std::size_t i = 0; i < n; i += 8) {
        float* q = p + i;
        const float a0 = q[0] + q[1], a1 = q[0] - q[1], a2 = q[2] + q[3], a3 = q[2] - q[3];
        const float a4 = q[4] + q[5], a5 = q[4] - q[5], a6 = q[6] + q[7], a7 = q[6] - q[7];
        const float b0 = a0 + a2, b1 = a1 + a3, b2 = a0 - a2, b3 = a1 - a3;
        const float b4 = a4 + a6, b5 = a5 + a7, b6 = a4 - a6, b7 = a5 - a7;
        q[0] = b0 + b4;
        q[1] = b1 + b5;
        q[2] = b2 + b6;
        q[3] = b3 + b7;
        q[4] = b0 - b4;
        q[5] = b1 - b5;
        q[6] = b2 - b6;
        q[7] = b3 - b7;
    }
    for (std::size_t len = 8; len < n; len <<= 1) {
        for (std::size_t i = 0; i < n; i += 2 * len) {
            float* lo = p + i;
            float* hi = p + i + len;
            for (std::size_t j = 0; j < len; ++j) {
                const float a = lo[j], b = hi[j];
                lo[j] = a + b;
                hi[j] = a - b;
            }
        }
    }
}

}  // namespace rk::util
