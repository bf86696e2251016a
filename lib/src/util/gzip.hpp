// gzip-compressed single files, read through zlib.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace rk::util {

// Whether `data` starts as gzip data does (its magic bytes).
bool is_gzip(std::string_view data) noexcept;

// The decompressed bytes of gzip `data` (every member, as gunzip does). Throws InputError when
// the data is not gzip, is damaged or truncated, or would decompress to more than `max_bytes`.
std::string gunzip(std::string_view data, std::size_t max_bytes);

}  // namespace rk::util
