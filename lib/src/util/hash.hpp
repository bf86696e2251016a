// Content hashes: XXH3-128, written as 32 hex digits. Used for documents (what incremental
// ingest compares) and for a benchmark's dataset identity.
#pragma once

#include <xxh3.h>

#include <string>
#include <string_view>

namespace rk::util {

class Hash128 {
  public:
    Hash128() { XXH3_128bits_reset(&state_); }
    void update(std::string_view bytes) {
        XXH3_128bits_update(&state_, bytes.data(), bytes.size());
    }
    // A length before the bytes, so that ("ab", "c") and ("a", "bc") hash differently.
    void update_field(std::string_view bytes);
    [[nodiscard]] std::string hex() const;

  private:
    XXH3_state_t state_{};
};

}  // namespace rk::util
