// Glob patterns: `*`, `?`, `[abc]`, `[!a-z]`, and `**` for any number of directories.
#pragma once

#include <string>
#include <string_view>

namespace rk::util {

// With `slash_is_special`, `*` and `?` do not match '/', as in a shell; `**` always does.
bool glob_match(std::string_view pattern, std::string_view text, bool slash_is_special = true);

// True if `s` contains a glob metacharacter.
bool has_glob_chars(std::string_view s) noexcept;

// `p` made absolute against the working directory and lexically normal; as is on failure.
std::string absolute_path(std::string_view p);

// A user's pattern over documents, matched against their id or source path (`*` crosses
// '/'). Files are stored under absolute paths, so a relative pattern such as 'docs/*' is
// also tried from the working directory.
class DocumentGlob {
  public:
    explicit DocumentGlob(std::string pattern);
    [[nodiscard]] bool matches(std::string_view id, std::string_view source) const;

  private:
    std::string pattern_, absolute_;
};

}  // namespace rk::util
