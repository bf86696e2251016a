// Glob patterns: `*`, `?`, `[abc]`, `[!a-z]`, and `**` for any number of directories.
#pragma once

#include <string_view>

namespace rk::util {

// With `slash_is_special`, `*` and `?` do not match '/', as in a shell; `**` always does.
bool glob_match(std::string_view pattern, std::string_view text, bool slash_is_special = true);

// True if `s` contains a glob metacharacter.
bool has_glob_chars(std::string_view s) noexcept;

}  // namespace rk::util
