#include "util/hash.hpp"

#include <fmt/format.h>

#include <cstdint>

namespace rk::util {

void Hash128::update_field(std::string_view bytes) {
    const std::uint64_t n = bytes.size();
    XXH3_128bits_update(&state_, &n, sizeof n);
    update(bytes);
}

std::string Hash128::hex() const {
    const XXH128_hash_t h = XXH3_128bits_digest(&state_);
    return fmt::format("{:016x}{:016x}", h.high64, h.low64);
}

}  // namespace rk::util
