#include "util/glob.hpp"

#include <filesystem>
#include <system_error>

namespace rk::util {

namespace {

// Matches one bracket expression at p[0] == '['; sets `len` to its length in the pattern.
// An unterminated '[' is taken literally.
bool match_class(std::string_view p, char c, std::size_t& len) {
    std::size_t i = 1;
    bool negate = false;
    if (i < p.size() && (p[i] == '!' || p[i] == '^')) {
        negate = true;
        ++i;
    }
    bool matched = false;
    bool first = true;
    while (i < p.size() && (first || p[i] != ']')) {
        first = false;
        const char lo = p[i];
        if (i + 2 < p.size() && p[i + 1] == '-' && p[i + 2] != ']') {
            if (lo <= c && c <= p[i + 2]) matched = true;
            i += 3;
        } else {
            if (lo == c) matched = true;
            ++i;
        }
    }
    if (i >= p.size()) {
        len = 1;  // no closing bracket: a literal '['
        return c == '[';
    }
    len = i + 1;
    return matched != negate;
}

bool match(std::string_view p, std::string_view t, bool slash) {
    while (!p.empty()) {
        if (p.size() >= 2 && p[0] == '*' && p[1] == '*') {
            std::size_t k = 0;
            while (k < p.size() && p[k] == '*') ++k;
            std::string_view rest = p.substr(k);
            // "**/" also matches no directory at all.
            if (!rest.empty() && rest[0] == '/' && match(rest.substr(1), t, slash)) return true;
            for (std::size_t i = 0; i <= t.size(); ++i) {
                if (match(rest, t.substr(i), slash)) return true;
            }
            return false;
        }
        if (p[0] == '*') {
            const std::string_view rest = p.substr(1);
            for (std::size_t i = 0; i <= t.size(); ++i) {
                if (match(rest, t.substr(i), slash)) return true;
                if (i < t.size() && slash && t[i] == '/') break;
            }
            return false;
        }
        if (t.empty()) return false;
        if (p[0] == '?') {
            if (slash && t[0] == '/') return false;
            p.remove_prefix(1);
        } else if (p[0] == '[') {
            std::size_t len = 1;
            if (!match_class(p, t[0], len)) return false;
            p.remove_prefix(len);
        } else {
            if (p[0] == '\\' && p.size() > 1) p.remove_prefix(1);
            if (p[0] != t[0]) return false;
            p.remove_prefix(1);
        }
        t.remove_prefix(1);
    }
    return t.empty();
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text, bool slash_is_special) {
    return match(pattern, text, slash_is_special);
}

bool has_glob_chars(std::string_view s) noexcept {
    return s.find_first_of("*?[") != std::string_view::npos;
}

std::string absolute_path(std::string_view p) {
    std::error_code ec;
    const auto abs = std::filesystem::absolute(std::filesystem::path(p), ec);
    return ec ? std::string(p) : abs.lexically_normal().string();
}

DocumentGlob::DocumentGlob(std::string pattern)
    : pattern_(std::move(pattern)), absolute_(absolute_path(pattern_)) {}

bool DocumentGlob::matches(std::string_view id, std::string_view source) const {
    for (const auto& p : {pattern_, absolute_}) {
        if (match(p, id, false) || (!source.empty() && match(p, source, false))) return true;
    }
    return false;
}

}  // namespace rk::util
