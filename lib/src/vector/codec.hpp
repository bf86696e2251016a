// Vectors as stored: int8 components and one float scale, so that a 4096-dimension vector
// takes 4 KiB. The graph compares stored vectors with each other in int8; results are
// re-scored with the float query.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace rk::vector {

// dimension bytes of int8, then the scale as a little-endian float.
inline std::size_t encoded_size(std::size_t dimension) {
    return dimension + sizeof(float);
}

std::string encode(std::span<const float> v);
// A query kept at 16 bits a component, to re-score graph candidates almost as exactly as in
// float but with integer arithmetic the compiler vectorizes.
class FineQuery {
  public:
    explicit FineQuery(std::span<const float> v);
    // The cosine with an encoded unit-length vector.
    [[nodiscard]] float dot(const char* encoded) const;

  private:
    std::vector<std::int16_t> v_;
    float scale_ = 0;
};

// 1 - cosine of two encoded vectors, as the graph measures it.
float distance(const char* a, const char* b, std::size_t dimension);

}  // namespace rk::vector
