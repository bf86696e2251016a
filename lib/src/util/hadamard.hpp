// The Walsh-Hadamard transform, the fast part of the random rotations that turn a vector into
// a binary code (the builtin embedder's projection, a model's vectors' codes).
#pragma once

#include <cstddef>

namespace rk::util {

// The unnormalised Walsh-Hadamard transform of p[0, n) in place; n a power of two from 8.
void walsh_hadamard(float* p, std::size_t n);

}  // namespace rk::util
