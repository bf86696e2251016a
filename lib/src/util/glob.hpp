// Glob patterns: `*`, `?`, `[abc]`, `[!a-z]`, and `**` for any number of directories.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace rk::util {

// A pattern read once and matched against many texts, in time linear in the pattern's length
// times the text's, whatever its stars.
class Glob {
  public:
    explicit Glob(std::string_view pattern);
    // With `slash_is_special`, `*` and `?` do not match '/', as in a shell; `**` always does.
    [[nodiscard]] bool matches(std::string_view text, bool slash_is_special = true) const;

  private:
    struct Token {
        enum class Kind { literal, any, set, star, globstar } kind = Kind::literal;
        char c = 0;       // literal
        std::string set;  // a bracket expression, '[' to ']'
    };
    std::vector<Token> tokens_;
};

// Glob(pattern).matches(text, slash_is_special), for a pattern used once.
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
    explicit DocumentGlob(std::string_view pattern);
    [[nodiscard]] bool matches(std::string_view id, std::string_view source) const;

  private:
    Glob pattern_, absolute_;
};

}  // namespace rk::util
