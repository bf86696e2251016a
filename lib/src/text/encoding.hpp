// Text in encodings other than UTF-8: told by a byte order mark, detected (uchardet) or named
// by the user, and decoded to UTF-8 (iconv).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace rk::text {

struct Bom {
    std::string encoding;  // "UTF-16LE", "UTF-16BE", "UTF-32LE", "UTF-32BE" or "UTF-8"
    std::size_t bytes = 0;
};

// The byte order mark `data` starts with, if any.
std::optional<Bom> byte_order_mark(std::string_view data) noexcept;

// The encoding uchardet finds most likely for `data` (an iconv name such as "WINDOWS-1252"),
// or nullopt when it finds none or only ASCII/UTF-8.
std::optional<std::string> detect_encoding(std::string_view data);

// `data` decoded from `encoding` (any name iconv knows) to UTF-8. Throws InputError naming
// the encoding and the byte offset of the first sequence that is not valid in it, or saying
// that the encoding is unknown.
std::string decode(std::string_view data, const std::string& encoding);

}  // namespace rk::text
