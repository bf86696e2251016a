#include "util/glob.hpp"

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <vector>

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

}  // namespace

Glob::Glob(std::string_view p) {
    for (std::size_t i = 0; i < p.size();) {
        Token t;
        if (p[i] == '*') {
            std::size_t k = i;
            while (k < p.size() && p[k] == '*') ++k;
            t.kind = k - i >= 2 ? Token::Kind::globstar : Token::Kind::star;
            tokens_.push_back(t);
            i = k;
            continue;
        }
        if (p[i] == '?') {
            t.kind = Token::Kind::any;
            ++i;
        } else if (p[i] == '[') {
            std::size_t len = 1;
            (void)match_class(p.substr(i), '\0', len);
            if (len == 1) {
                t.c = '[';  // unterminated: a literal '['
            } else {
                t.kind = Token::Kind::set;
                t.set = std::string(p.substr(i, len));
            }
            i += len;
        } else {
            if (p[i] == '\\' && i + 1 < p.size()) ++i;
            t.c = p[i++];
        }
        tokens_.push_back(std::move(t));
    }
}

// Runs the pattern as an automaton over the text: the set of token positions reachable after
// each character. (A backtracking matcher takes exponential time on patterns such as
// "**/**/**/...x".)
bool Glob::matches(std::string_view t, bool slash) const {
    const auto& tokens = tokens_;
    const std::size_t n = tokens.size();
    // States 0..n: the tokens before j are matched. States n+1+j: a "**" at j has read at
    // least one character, so the '/' after it is owed (only a "**/" that read nothing may
    // stand for no directory).
    const std::size_t looped = n + 1;
    std::vector<unsigned char> now(2 * (n + 1), 0), next(now.size(), 0);
    // Adds what the states reach without reading: past a star (it may match nothing), and
    // past a fresh "**/".
    auto close = [&](std::vector<unsigned char>& states) {
        for (std::size_t j = 0; j < n; ++j) {
            const auto kind = tokens[j].kind;
            if (kind != Token::Kind::star && kind != Token::Kind::globstar) continue;
            if (states[j] != 0 || states[looped + j] != 0) states[j + 1] = 1;
            if (states[j] != 0 && kind == Token::Kind::globstar && j + 1 < n &&
                tokens[j + 1].kind == Token::Kind::literal && tokens[j + 1].c == '/') {
                states[j + 2] = 1;
            }
        }
    };
    now[0] = 1;
    close(now);
    for (const char c : t) {
        std::fill(next.begin(), next.end(), 0);
        for (std::size_t j = 0; j < n; ++j) {
            const Token& tok = tokens[j];
            if (tok.kind == Token::Kind::globstar) {
                if (now[j] != 0 || now[looped + j] != 0) next[looped + j] = 1;
                continue;
            }
            if (now[j] == 0) continue;
            std::size_t len = 1;
            switch (tok.kind) {
                case Token::Kind::star:
                    if (!slash || c != '/') next[j] = 1;
                    break;
                case Token::Kind::any:
                    if (!slash || c != '/') next[j + 1] = 1;
                    break;
                case Token::Kind::set:
                    if (match_class(tok.set, c, len)) next[j + 1] = 1;
                    break;
                case Token::Kind::literal:
                    if (tok.c == c) next[j + 1] = 1;
                    break;
                case Token::Kind::globstar:
                    break;
            }
        }
        close(next);
        if (std::find(next.begin(), next.end(), 1) == next.end()) return false;
        now.swap(next);
    }
    return now[n] != 0;
}

bool glob_match(std::string_view pattern, std::string_view text, bool slash_is_special) {
    return Glob(pattern).matches(text, slash_is_special);
}

bool has_glob_chars(std::string_view s) noexcept {
    return s.find_first_of("*?[") != std::string_view::npos;
}

std::string absolute_path(std::string_view p) {
    std::error_code ec;
    const auto abs = std::filesystem::absolute(std::filesystem::path(p), ec);
    return ec ? std::string(p) : abs.lexically_normal().string();
}

DocumentGlob::DocumentGlob(std::string_view pattern)
    : pattern_(pattern), absolute_(absolute_path(pattern)) {}

bool DocumentGlob::matches(std::string_view id, std::string_view source) const {
    for (const Glob* g : {&pattern_, &absolute_}) {
        if (g->matches(id, false) || (!source.empty() && g->matches(source, false))) return true;
    }
    return false;
}

}  // namespace rk::util
