// UTF-8 validation and repair: nothing invalid is ever stored or printed.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace rk::text {

// Length of the well-formed UTF-8 sequence starting at s[i], or 0 if it is ill-formed
// (overlong, surrogate, beyond U+10FFFF, truncated, or a stray continuation byte).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept;

// Byte offset of the first ill-formed sequence, or nullopt if `s` is valid UTF-8.
std::optional<std::size_t> utf8_first_invalid(std::string_view s) noexcept;

// Appends code point `c` in UTF-8; surrogates and values beyond U+10FFFF append U+FFFD.
void append_utf8(std::string& out, char32_t c);

// Replaces each byte of each ill-formed sequence with '?', keeping every offset into `s`.
void utf8_mask(std::string& s) noexcept;

// Replaces each ill-formed sequence with U+FFFD. Returns the number of replacements.
std::size_t utf8_repair(std::string& s);

// True if the data looks binary: a NUL byte in its first 8 KiB (as git and ripgrep judge).
bool looks_binary(std::string_view data) noexcept;

}  // namespace rk::text
