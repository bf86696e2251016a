// Source code: cut at top-level definitions, each named by what it defines. A small lexer per
// family of syntax finds the top level (outside blocks, brackets, comments and strings); no
// language is parsed.
#include "ingest/code.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <span>

#include "text/utf8.hpp"

namespace rk::inputs {

namespace {

bool is_blank_line(std::string_view l) {
    return l.find_first_not_of(" \t\r\f\v") == std::string_view::npos;
}
bool ident_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '$' ||
           static_cast<unsigned char>(c) >= 0x80;
}
// Characters of a qualified name: Foo::bar, self.name, Foo.Bar, ~Foo, empty?.
bool name_char(char c) {
    return ident_char(c) || c == ':' || c == '.' || c == '~' || c == '!' || c == '?';
}

std::string collapse(std::string_view s, std::size_t max) {
    std::string out;
    for (const char c : s) {
        const bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r';
        if (space && (out.empty() || out.back() == ' ')) continue;
        out += space ? ' ' : c;
        if (out.size() >= max) break;
    }
    // Cut at a character's end, never inside one.
    while (!out.empty() && text::utf8_first_invalid(out)) out.pop_back();
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

// The name right after position `at` (spaces, '*' and '&' skipped), or empty.
std::string_view name_at(std::string_view h, std::size_t at) {
    while (at < h.size() && (h[at] == ' ' || h[at] == '*' || h[at] == '&')) ++at;
    std::size_t end = at;
    while (end < h.size() && name_char(h[end])) ++end;
    std::string_view name = h.substr(at, end - at);
    while (!name.empty() && (name.back() == ':' || name.back() == '.')) name.remove_suffix(1);
    return name;
}

// The name that ends right before position `end` (spaces skipped), or empty.
std::string_view name_before(std::string_view h, std::size_t end) {
    while (end > 0 && h[end - 1] == ' ') --end;
    std::size_t start = end;
    while (start > 0 && name_char(h[start - 1])) --start;
    return h.substr(start, end - start);
}

bool control_word(std::string_view w) {
    static constexpr std::array<std::string_view, 14> kControl = {
        "if",     "for",   "while",  "switch", "return",  "sizeof",   "catch",
        "elseif", "elsif", "unless", "until",  "foreach", "function", "with"};
    return std::find(kControl.begin(), kControl.end(), w) != kControl.end();
}

// Position of `word` as a whole word in `h`, or npos.
std::size_t find_word(std::string_view h, std::string_view word) {
    for (std::size_t at = h.find(word); at != std::string_view::npos; at = h.find(word, at + 1)) {
        const bool starts = at == 0 || !ident_char(h[at - 1]);
        const std::size_t end = at + word.size();
        if (starts && (end >= h.size() || !ident_char(h[end]))) return at;
    }
    return std::string_view::npos;
}

}  // namespace

std::string definition_name(std::string_view header, bool calls_define) {
    std::string h = collapse(header, 400);
    // C++ templates: the parameters name no definition ("template <class T> void f(T)").
    if (h.starts_with("template")) {
        std::size_t at = h.find('<');
        int depth = 0;
        for (; at != std::string::npos && at < h.size(); ++at) {
            if (h[at] == '<') ++depth;
            if (h[at] == '>' && --depth == 0) break;
        }
        h = at == std::string::npos || at >= h.size() ? "" : h.substr(at + 1);
    }
    const std::string_view v(h);
    // Words that introduce a function by name.
    for (const std::string_view kw :
         {"def", "fn", "func", "function", "sub", "proc", "defp", "defmacro", "macro", "fun"}) {
        std::size_t at = find_word(v, kw);
        if (at == std::string_view::npos) continue;
        at += kw.size();
        while (at < v.size() && (v[at] == ' ' || v[at] == '*')) ++at;
        if (kw == "func" && at < v.size() && v[at] == '(') {  // Go's receiver
            const std::size_t close = v.find(')', at);
            if (close == std::string_view::npos) continue;
            at = close + 1;
        }
        const std::string_view name = name_at(v, at);
        if (!name.empty() && !control_word(name)) return std::string(name);
    }
    // A call-shaped header: the name before the first parenthesis.
    const std::size_t paren = v.find('(');
    const std::size_t assign = v.find('=');
    if (calls_define && paren != std::string_view::npos &&
        (assign == std::string_view::npos || paren < assign)) {
        const std::string_view name = name_before(v, paren);
        if (!name.empty() && !control_word(name) &&
            !std::isdigit(static_cast<unsigned char>(name.front()))) {
            // A macro in capitals (TEST_CASE("parses"), TEST(Suite, Name)) is named by its
            // arguments too, which say what it defines.
            const bool macro = std::none_of(name.begin(), name.end(), [](char c) {
                return std::islower(static_cast<unsigned char>(c)) != 0;
            });
            const std::size_t close = v.find(')', paren);
            if (macro && close != std::string_view::npos) {
                const auto start = static_cast<std::size_t>(name.data() - v.data());
                return collapse(v.substr(start, close + 1 - start), 160);
            }
            // "class Foo(Base)", "struct Point(i32)" name the type the same way.
            return std::string(name);
        }
    }
    // Words that introduce a type or a module by name.
    for (const std::string_view kw :
         {"class", "struct", "union", "enum", "interface", "trait", "module", "type", "object",
          "record", "protocol", "extension", "message", "service", "defmodule", "impl"}) {
        const std::size_t at = find_word(v, kw);
        if (at == std::string_view::npos) continue;
        if (kw == "impl") return collapse(v.substr(at, v.find('{') - at), 80);
        const std::string_view name = name_at(v, at + kw.size());
        if (!name.empty()) return std::string(name);
    }
    // A function assigned to a name: "const f = (x) => {", "f <- function(x) {".
    if (v.find("=>") != std::string_view::npos ||
        find_word(v, "function") != std::string_view::npos ||
        find_word(v, "lambda") != std::string_view::npos) {
        std::size_t op = v.find("<-");
        if (op == std::string_view::npos) op = assign;
        if (op != std::string_view::npos) {
            std::string_view name = name_before(v, op);
            if (!name.empty()) return std::string(name);
        }
    }
    return {};
}

namespace {

constexpr std::ptrdiff_t kMinDefinitionLines = 2;  // code lines of a definition that is a section

// Where each line of the file starts, and the lexer's view of it.
struct Line {
    std::size_t start, end;  // byte range, without the newline
    bool top = false;        // starts at the top level: outside blocks, brackets, strings
    bool code = false;       // holds something other than blanks and comments
};

// Brace syntax (C, C++, Java, JavaScript, Go, Rust...): the top level is outside {} blocks,
// except those of namespaces and extern "C", whose contents are top level.
class BraceLexer {
  public:
    explicit BraceLexer(std::string_view text) : t_(text) {}

    // Whether the next line starts a statement at the top level (the last one ended).
    [[nodiscard]] bool between_statements() const {
        return depth_ == 0 && !pending_ && !in_comment_ && !in_string_;
    }
    // Whether the next line is at the top level, outside brackets too.
    [[nodiscard]] bool at_rest() const {
        return depth_ == 0 && parens_ == 0 && !in_comment_ && !in_string_;
    }

    // Advances over one line; says whether it began at the top level and holds code.
    void line(Line& l) {
        l.top = depth_ == 0 && !in_comment_ && !in_string_;
        bool code = false;
        std::size_t i = l.start;
        const std::size_t first = t_.find_first_not_of(" \t", l.start);
        // C's preprocessor lines (not Rust's #[attributes]) are statements of their own.
        const bool directive = l.top && !pending_ && first < l.end && t_[first] == '#' &&
                               first + 1 < l.end &&
                               std::isalpha(static_cast<unsigned char>(t_[first + 1])) != 0;
        while (i < l.end) {
            if (in_comment_) {
                // Within this line only: a comment left open would make every line search
                // the rest of the file.
                const std::size_t close = t_.substr(i, l.end - i).find("*/");
                if (close == std::string_view::npos) {
                    i = l.end;
                } else {
                    in_comment_ = false;
                    i += close + 2;
                }
                continue;
            }
            if (in_string_) {
                i = skip_string(i, l.end);
                code = true;
                continue;
            }
            const char c = t_[i];
            if (c == ' ' || c == '\t' || c == '\r') {
                ++i;
                continue;
            }
            if (c == '/' && i + 1 < l.end && t_[i + 1] == '/') break;
            if (c == '/' && i + 1 < l.end && t_[i + 1] == '*') {
                in_comment_ = true;
                i += 2;
                continue;
            }
            code = true;
            if (depth_ == 0 && !pending_) {
                pending_ = true;
                statement_start_ = i;
            }
            if (c == '"' || c == '`') {
                quote_ = t_.substr(i, t_.substr(i, 3) == "\"\"\"" ? 3 : 1);
                in_string_ = true;
                i += quote_.size();
                continue;
            }
            if (c == '\'') {
                i = skip_char_literal(i, l.end);
                continue;
            }
            if (c == '{') {
                // A namespace's block holds top-level definitions: it does not count.
                const std::string_view head = t_.substr(statement_start_, i - statement_start_);
                const bool transparent =
                    depth_ == 0 && (head.find("namespace") != std::string_view::npos ||
                                    head.find("extern \"C") != std::string_view::npos);
                opened_.push_back(transparent);
                if (transparent) {
                    pending_ = false;
                } else {
                    ++depth_;
                }
            } else if (c == '}') {
                if (!opened_.empty()) {
                    if (!opened_.back() && depth_ > 0) --depth_;
                    opened_.pop_back();
                }
                if (depth_ == 0) pending_ = false;
            } else if (c == ';' && depth_ == 0) {
                pending_ = false;
            } else if ((c == '(' || c == '[') && depth_ == 0) {
                ++parens_;
            } else if ((c == ')' || c == ']') && depth_ == 0 && parens_ > 0) {
                --parens_;
            }
            ++i;
        }
        l.code = code;
        if (directive) pending_ = l.end > l.start && t_[l.end - 1] == '\\';
    }

  private:
    std::size_t skip_string(std::size_t i, std::size_t end) {
        while (i < end) {
            if (t_[i] == '\\' && quote_ != "`") {
                i += 2;
                continue;
            }
            if (t_.substr(i, quote_.size()) == quote_) {
                in_string_ = false;
                return i + quote_.size();
            }
            ++i;
        }
        // A string that runs past the line: only raw and template strings may.
        if (quote_ == "\"") in_string_ = false;
        return end;
    }

    // 'x', '\n', '\u00e9': a character literal; otherwise an apostrophe (a Rust lifetime).
    [[nodiscard]] std::size_t skip_char_literal(std::size_t i, std::size_t end) const {
        std::size_t j = i + 1;
        if (j < end && t_[j] == '\\') {
            j += 2;
        } else if (j < end) {
            ++j;
        }
        for (std::size_t k = j; k < end && k < i + 12; ++k) {
            if (t_[k] == '\'') return k + 1;
        }
        return i + 1;
    }

    std::string_view t_;
    int depth_ = 0;
    int parens_ = 0;            // open ( and [ at the top level
    std::vector<bool> opened_;  // per open brace: a namespace's, which does not count
    bool pending_ = false;      // a top-level statement has begun and not ended
    bool in_comment_ = false, in_string_ = false;
    std::string_view quote_;
    std::size_t statement_start_ = 0;
};

// Indentation syntax and line-comment languages (Python, Ruby, shell, Lua...): the top level
// is column 0 outside brackets and multi-line strings.
class IndentLexer {
  public:
    IndentLexer(std::string_view text, std::string_view comment) : t_(text), comment_(comment) {}

    void line(Line& l) {
        const std::string_view s = t_.substr(l.start, l.end - l.start);
        const std::size_t first = s.find_first_not_of(" \t\r");
        l.top = brackets_ == 0 && quote_.empty() && first == 0;
        l.code = false;
        for (std::size_t i = first == std::string_view::npos ? s.size() : first; i < s.size();) {
            if (!quote_.empty()) {
                const std::size_t close = s.find(quote_, i);
                l.code = true;
                if (close == std::string_view::npos) break;
                i = close + quote_.size();
                quote_ = {};
                continue;
            }
            if (s.substr(i).starts_with(comment_)) break;
            const char c = s[i];
            l.code = l.code || (c != ' ' && c != '\t' && c != '\r');
            if (c == '"' || c == '\'') {
                const bool triple = s.substr(i, 3) == std::string(3, c);
                const std::size_t n = triple ? 3 : 1;
                const std::size_t close = s.find(s.substr(i, n), i + n);
                if (close == std::string_view::npos) {
                    // Only triple-quoted strings run across lines.
                    if (triple) quote_ = s.substr(i, 3);
                    break;
                }
                i = close + n;
                continue;
            }
            if (c == '(' || c == '[' || c == '{') ++brackets_;
            if ((c == ')' || c == ']' || c == '}') && brackets_ > 0) --brackets_;
            ++i;
        }
    }

  private:
    std::string_view t_, comment_;
    int brackets_ = 0;
    std::string_view quote_;
};

// Lines that close a block rather than start a statement (a comment after them aside).
bool closing_line(std::string_view l, std::string_view comment) {
    l = l.substr(0, l.find(comment));
    const std::string_view t = l.substr(0, l.find_last_not_of(" \t\r;") + 1);
    for (const std::string_view end : {"}", ")", "]", "end", "fi", "done", "esac", "};", "})"}) {
        if (t == end) return true;
    }
    return false;
}

}  // namespace

Parsed read_code(std::string_view text, const Language& lang) {
    std::vector<Line> lines;
    for (std::size_t pos = 0; pos < text.size();) {
        std::size_t nl = text.find('\n', pos);
        if (nl == std::string_view::npos) nl = text.size();
        lines.push_back({pos, nl});
        pos = nl + 1;
    }
    // Units: runs of lines from one top-level statement to the next, each with the comments
    // right above it.
    struct Unit {
        std::size_t first, last;  // line numbers, inclusive
    };
    std::vector<Unit> units;
    std::size_t comment_run = lines.size();  // first line of the comments above, if any
    // Whether line n (lexed already) holds no code: a blank line ends the comments above a
    // statement, a comment line at the top level begins or goes on with them.
    const auto no_code = [&](std::size_t n, std::string_view l) {
        if (is_blank_line(l)) {
            comment_run = lines.size();
        } else if (!lines[n].code) {
            if (lines[n].top && comment_run == lines.size()) comment_run = n;
        } else {
            return false;
        }
        return true;
    };
    if (lang.syntax == Syntax::braces) {
        BraceLexer lex(text);
        bool decorators = false;  // the statement so far is annotations (@Component(...))
        for (std::size_t n = 0; n < lines.size(); ++n) {
            const std::string_view l = text.substr(lines[n].start, lines[n].end - lines[n].start);
            // Without semicolons, a line at column 0 at rest starts a statement, unless it
            // goes on with the last one (".then(...)", "+ x").
            const bool continues = !l.empty() && std::string_view(" \t.)]?:+-*|&,=").find(l[0]) !=
                                                     std::string_view::npos;
            const bool starts = lex.between_statements() ||
                                (lang.newline_ends && lex.at_rest() && !continues && !decorators);
            lex.line(lines[n]);
            if (no_code(n, l)) continue;
            if (starts && lines[n].top && !closing_line(l, "//")) {
                units.push_back({comment_run < n ? comment_run : n, n});
            }
            if (lines[n].top) decorators = l.starts_with('@') && lex.at_rest();
            comment_run = lines.size();
        }
    } else {
        const std::string_view comment = lang.syntax == Syntax::dashes ? "--" : "#";
        IndentLexer lex(text, comment);
        bool decorators = false;  // the unit so far is Python decorators
        for (std::size_t n = 0; n < lines.size(); ++n) {
            lex.line(lines[n]);
            const std::string_view l = text.substr(lines[n].start, lines[n].end - lines[n].start);
            if (no_code(n, l)) continue;
            if (lines[n].top && !closing_line(l, comment) && !decorators &&
                !l.starts_with("else") && !l.starts_with("elif") && !l.starts_with("except") &&
                !l.starts_with("finally")) {
                units.push_back({comment_run < n ? comment_run : n, n});
            }
            if (lines[n].top) decorators = l.starts_with('@');
            comment_run = lines.size();
        }
    }

    Parsed p;
    p.meta.emplace_back("language", std::string(lang.name));
    if (units.empty() || units.front().first > 0) units.insert(units.begin(), {0, 0});
    bool after_definition = true;  // a nameless unit after a named one starts a section
    for (std::size_t u = 0; u < units.size(); ++u) {
        const std::size_t first = units[u].first;
        const std::size_t end_line = u + 1 < units.size() ? units[u + 1].first : lines.size();
        if (end_line <= first) continue;
        // The header: from the statement's first line (past comments and decorators) up to
        // its block or its end, at most a few lines.
        std::size_t h = std::max(first, units[u].last);
        const auto line_at = [&](std::size_t n) {
            return text.substr(lines[n].start, lines[n].end - lines[n].start);
        };
        while (h + 1 < end_line && (line_at(h).starts_with('@') || line_at(h).starts_with("#["))) {
            ++h;
        }
        // A header runs to its block (C's "static int" goes on with "parse_config(...)"), or,
        // without braces, to the end of its parentheses (a Python signature over lines).
        std::string header;
        int parens = 0;
        for (std::size_t n = h; n < end_line && n < h + 4; ++n) {
            const std::string_view l = line_at(n);
            header.append(l).push_back(' ');
            parens += static_cast<int>(std::count(l.begin(), l.end(), '(')) -
                      static_cast<int>(std::count(l.begin(), l.end(), ')'));
            if (l.find_first_of("{;:") != std::string_view::npos) break;
            if (lang.syntax != Syntax::braces && parens <= 0) break;
        }
        header = header.substr(0, header.find('{'));
        // A definition of one line (a prototype, a constant, an empty type) is packed
        // with its neighbours, as a header file's many declarations would otherwise each be
        // a chunk of a few words.
        const auto code_lines = std::count_if(lines.begin() + static_cast<std::ptrdiff_t>(h),
                                              lines.begin() + static_cast<std::ptrdiff_t>(end_line),
                                              [](const Line& l) { return l.code; });
        const bool opening = u == 0 && units[u].last == 0 && first == 0 && !lines[0].code;
        const std::string name = opening || code_lines < kMinDefinitionLines
                                     ? std::string()
                                     : definition_name(header, lang.calls_define);
        bool section_start = !name.empty() || after_definition;
        after_definition = !name.empty();
        // Paragraphs (blank-line separated) of the unit, under its name.
        std::size_t para = lines.size();
        for (std::size_t n = first; n <= end_line; ++n) {
            const bool blank = n == end_line || is_blank_line(text.substr(
                                                    lines[n].start, lines[n].end - lines[n].start));
            if (!blank && para == lines.size()) para = n;
            if (blank && para != lines.size()) {
                p.segments.push_back({lines[para].start, lines[n - 1].end, name, section_start});
                section_start = false;
                para = lines.size();
            }
        }
    }
    return p;
}

namespace {

constexpr std::array<Language, 30> kLanguages = {{
    {"c", Syntax::braces, true, false},         {"cpp", Syntax::braces, true, false},
    {"csharp", Syntax::braces, true, false},    {"java", Syntax::braces, true, false},
    {"javascript", Syntax::braces, true, true}, {"typescript", Syntax::braces, true, true},
    {"go", Syntax::braces, true, true},         {"rust", Syntax::braces, true, false},
    {"kotlin", Syntax::braces, true, true},     {"swift", Syntax::braces, true, true},
    {"scala", Syntax::braces, true, true},      {"php", Syntax::braces, true, false},
    {"dart", Syntax::braces, true, false},      {"zig", Syntax::braces, true, false},
    {"objc", Syntax::braces, true, false},      {"protobuf", Syntax::braces, true, false},
    {"groovy", Syntax::braces, true, true},     {"css", Syntax::braces, false, false},
    {"python", Syntax::hashes, false, false},   {"ruby", Syntax::hashes, false, false},
    {"shell", Syntax::hashes, true, false},     {"perl", Syntax::hashes, false, false},
    {"r", Syntax::hashes, false, false},        {"elixir", Syntax::hashes, false, false},
    {"julia", Syntax::hashes, false, false},    {"cmake", Syntax::hashes, true, false},
    {"make", Syntax::hashes, false, false},     {"lua", Syntax::dashes, false, false},
    {"sql", Syntax::dashes, false, false},      {"haskell", Syntax::dashes, false, false},
}};

}  // namespace

std::span<const Language> languages() {
    return kLanguages;
}

const Language* language_for(std::string_view filename, std::string_view head) {
    const auto named = [](std::string_view n) {
        return &*std::find_if(kLanguages.begin(), kLanguages.end(),
                              [&](const Language& l) { return l.name == n; });
    };
    struct Extension {
        std::string_view ext, language;
    };
    static constexpr std::array<Extension, 55> kExtensions = {{
        {"c", "c"},
        {"h", "c"},
        {"cc", "cpp"},
        {"cpp", "cpp"},
        {"cxx", "cpp"},
        {"c++", "cpp"},
        {"hpp", "cpp"},
        {"hh", "cpp"},
        {"hxx", "cpp"},
        {"ipp", "cpp"},
        {"inl", "cpp"},
        {"cs", "csharp"},
        {"java", "java"},
        {"js", "javascript"},
        {"mjs", "javascript"},
        {"cjs", "javascript"},
        {"jsx", "javascript"},
        {"ts", "typescript"},
        {"tsx", "typescript"},
        {"mts", "typescript"},
        {"cts", "typescript"},
        {"go", "go"},
        {"rs", "rust"},
        {"kt", "kotlin"},
        {"kts", "kotlin"},
        {"swift", "swift"},
        {"scala", "scala"},
        {"php", "php"},
        {"dart", "dart"},
        {"zig", "zig"},
        {"m", "objc"},
        {"mm", "objc"},
        {"proto", "protobuf"},
        {"groovy", "groovy"},
        {"gradle", "groovy"},
        {"css", "css"},
        {"scss", "css"},
        {"less", "css"},
        {"py", "python"},
        {"pyi", "python"},
        {"pyw", "python"},
        {"rb", "ruby"},
        {"sh", "shell"},
        {"bash", "shell"},
        {"zsh", "shell"},
        {"ksh", "shell"},
        {"pl", "perl"},
        {"pm", "perl"},
        {"r", "r"},
        {"ex", "elixir"},
        {"exs", "elixir"},
        {"jl", "julia"},
        {"cmake", "cmake"},
        {"mk", "make"},
        {"lua", "lua"},
    }};
    const std::size_t slash = filename.find_last_of('/');
    const std::string_view base =
        slash == std::string_view::npos ? filename : filename.substr(slash + 1);
    for (const auto& [file, language] : {std::pair{"CMakeLists.txt", "cmake"},
                                         {"Makefile", "make"},
                                         {"makefile", "make"},
                                         {"GNUmakefile", "make"},
                                         {"Rakefile", "ruby"},
                                         {"Gemfile", "ruby"}}) {
        if (base == file) return named(language);
    }
    const std::size_t dot = base.rfind('.');
    if (dot != std::string_view::npos && dot > 0) {
        std::string ext(base.substr(dot + 1));
        for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        for (const auto& [e, language] : kExtensions) {
            if (e == ext) return named(language);
        }
        if (ext == "sql") return named("sql");
        if (ext == "hs") return named("haskell");
        return nullptr;
    }
    // No extension: a script says what runs it.
    if (!head.starts_with("#!")) return nullptr;
    const std::string_view shebang = head.substr(0, head.find('\n'));
    for (const auto& [word, language] : {std::pair{"python", "python"},
                                         {"bash", "shell"},
                                         {"/sh", "shell"},
                                         {"zsh", "shell"},
                                         {"dash", "shell"},
                                         {"ksh", "shell"},
                                         {" sh", "shell"},
                                         {"ruby", "ruby"},
                                         {"perl", "perl"},
                                         {"node", "javascript"},
                                         {"lua", "lua"},
                                         {"Rscript", "r"}}) {
        if (shebang.find(word) != std::string_view::npos) return named(language);
    }
    return nullptr;
}

}  // namespace rk::inputs
