#include "ingest/roff_text.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

#include "text/utf8.hpp"

namespace rk::inputs::roff {

namespace {

constexpr int kMaxDepth = 16;  // strings that name strings, nested conditions

bool is_blank(char c) {
    return c == ' ' || c == '\t';
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

struct Glyph {
    std::string_view name, text;
};

// groff_char(7)'s names for the characters man pages use, and what they are in Unicode.
constexpr std::array kGlyphs = std::to_array<Glyph>({
    {"!=", "≠"},   {"**", "∗"},   {"+-", "±"},  {"-", "-"},   {"->", "→"},  {"-D", "Ð"},
    {"/O", "Ø"},   {"/o", "ø"},   {"12", "½"},  {"14", "¼"},  {"34", "¾"},  {"<-", "←"},
    {"<=", "≤"},   {"<>", "↔"},   {"==", "≡"},  {"=~", "≅"},  {">=", "≥"},  {"AE", "Æ"},
    {"Bq", "„"},   {"CR", "↵"},   {"Cs", "¤"},  {"Do", "$"},  {"Eu", "€"},  {"Fc", "»"},
    {"Fi", "ffi"}, {"Fl", "ffl"}, {"Fo", "«"},  {"OE", "Œ"},  {"OK", "✓"},  {"Po", "£"},
    {"S1", "¹"},   {"S2", "²"},   {"S3", "³"},  {"Sd", "ð"},  {"TP", "Þ"},  {"Tp", "þ"},
    {"Ye", "¥"},   {"a\"", "˝"},  {"a-", "¯"},  {"aa", "´"},  {"ad", "¨"},  {"ae", "æ"},
    {"ap", "~"},   {"aq", "'"},   {"at", "@"},  {"ba", "|"},  {"bq", "‚"},  {"br", "│"},
    {"bu", "•"},   {"ca", "∩"},   {"ci", "○"},  {"co", "©"},  {"cq", "’"},  {"ct", "¢"},
    {"cu", "∪"},   {"da", "↓"},   {"dd", "‡"},  {"de", "°"},  {"dg", "†"},  {"di", "÷"},
    {"dq", "\""},  {"em", "—"},   {"en", "–"},  {"eq", "="},  {"es", "∅"},  {"eu", "€"},
    {"fa", "∀"},   {"fc", "›"},   {"ff", "ff"}, {"fi", "fi"}, {"fl", "fl"}, {"fm", "′"},
    {"fo", "‹"},   {"ga", "`"},   {"gr", "∇"},  {"hA", "⇔"},  {"ha", "^"},  {"hy", "-"},
    {"if", "∞"},   {"is", "∫"},   {"lA", "⇐"},  {"lB", "["},  {"lC", "{"},  {"la", "⟨"},
    {"lh", "☜"},   {"lq", "“"},   {"lz", "◊"},  {"mc", "µ"},  {"mi", "-"},  {"mo", "∈"},
    {"mu", "×"},   {"nm", "∉"},   {"no", "¬"},  {"oe", "œ"},  {"oq", "‘"},  {"or", "|"},
    {"pc", "·"},   {"pd", "∂"},   {"pl", "+"},  {"ps", "¶"},  {"pt", "∝"},  {"r!", "¡"},
    {"r?", "¿"},   {"rA", "⇒"},   {"rB", "]"},  {"rC", "}"},  {"ra", "⟩"},  {"rg", "®"},
    {"rh", "☞"},   {"rq", "”"},   {"rs", "\\"}, {"ru", "_"},  {"sb", "⊂"},  {"sc", "§"},
    {"sd", "″"},   {"sh", "#"},   {"sl", "/"},  {"sp", "⊃"},  {"sq", "□"},  {"sr", "√"},
    {"ss", "ß"},   {"te", "∃"},   {"ti", "~"},  {"tm", "™"},  {"ts", "ς"},  {"ua", "↑"},
    {"ul", "_"},   {"~~", "≈"},
});

static_assert(std::is_sorted(kGlyphs.begin(), kGlyphs.end(),
                             [](const Glyph& a, const Glyph& b) { return a.name < b.name; }));

// Greek letters: *a is alpha, *A Alpha, in the order of kGreekLatin.
constexpr std::string_view kGreekLatin = "abgdezyhiklmncoprstufxqw";
constexpr std::array<char32_t, 24> kGreekLower = {U'α', U'β', U'γ', U'δ', U'ε', U'ζ', U'η', U'θ',
                                                  U'ι', U'κ', U'λ', U'μ', U'ν', U'ξ', U'ο', U'π',
                                                  U'ρ', U'σ', U'τ', U'υ', U'φ', U'χ', U'ψ', U'ω'};

// Accented letters named by accent and letter ("'e", ":u"): the precomposed character, so that
// they are searched as they are written elsewhere.
struct Accent {
    char mark;
    std::string_view letters;
    std::u32string_view composed;
};
constexpr std::array kAccents = std::to_array<Accent>({
    {'\'', "aeiouyAEIOUYcC", U"áéíóúýÁÉÍÓÚÝćĆ"},
    {'`', "aeiouAEIOU", U"àèìòùÀÈÌÒÙ"},
    {'^', "aeiouAEIOU", U"âêîôûÂÊÎÔÛ"},
    {':', "aeiouyAEIOU", U"äëïöüÿÄËÏÖÜ"},
    {'~', "anoANO", U"ãñõÃÑÕ"},
    {',', "cC", U"çÇ"},
    {'o', "aA", U"åÅ"},
    {'v', "sSzZcCrReE", U"šŠžŽčČřŘěĚ"},
});

// Skips one delimited argument ('...') starting at s[i], escapes inside it included.
void skip_delimited(std::string_view s, std::size_t& i, int depth = 0);

// The length of the character at s[i]: a whole UTF-8 sequence, so that a name never takes
// part of one and leaves the rest as stray bytes; 1 for a byte that starts none.
std::size_t char_length(std::string_view s, std::size_t i) {
    return std::max<std::size_t>(1, text::utf8_sequence_length(s, i));
}

// Reads an escape's name argument at s[i]: "x", "(xy" or "[name]".
std::string_view read_name(std::string_view s, std::size_t& i) {
    if (i >= s.size()) return {};
    if (s[i] == '(') {
        const std::size_t start = i + 1;
        i = start;
        for (int k = 0; k < 2 && i < s.size(); ++k) i += char_length(s, i);
        return s.substr(start, i - start);
    }
    if (s[i] == '[') {
        const std::size_t close = s.find(']', i + 1);
        const std::size_t end = close == std::string_view::npos ? s.size() : close;
        const std::string_view name = s.substr(i + 1, end - i - 1);
        i = std::min(s.size(), end + 1);
        return name;
    }
    const std::size_t start = i;
    i += char_length(s, i);
    return s.substr(start, i - start);
}

// Skips the escape whose letter is s[i - 1] (the backslash and letter already consumed).
void skip_escape_argument(std::string_view s, std::size_t& i, char e, int depth = 0) {
    switch (e) {
        case 'f':
        case 'F':
        case 'g':
        case 'k':
        case 'm':
        case 'M':
        case 'Y':
        case 'V':
        case 'O':
        case '*':
        case '$':
        case '(':
        case '[':
            if (e == '(' || e == '[') --i;
            (void)read_name(s, i);
            return;
        case 'n':
            if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
            (void)read_name(s, i);
            return;
        case 's':
            if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
            if (i < s.size() && (s[i] == '(' || s[i] == '[')) {
                (void)read_name(s, i);
            } else if (i < s.size() && s[i] == '\'') {
                skip_delimited(s, i, depth);
            } else {
                // One digit, or two when the first makes a size of 10-39.
                if (i < s.size() && is_digit(s[i])) ++i;
                if (i < s.size() && is_digit(s[i]) && s[i - 1] >= '1' && s[i - 1] <= '3') ++i;
            }
            return;
        case 'b':
        case 'o':
        case 'w':
        case 'h':
        case 'v':
        case 'l':
        case 'L':
        case 'D':
        case 'X':
        case 'Z':
        case 'A':
        case 'B':
        case 'x':
        case 'R':
        case 'S':
        case 'H':
        case 'C':
        case 'N':
            skip_delimited(s, i, depth);
            return;
        default:
            return;
    }
}

void skip_delimited(std::string_view s, std::size_t& i, int depth) {
    if (i >= s.size()) return;
    const char delim = s[i++];
    while (i < s.size() && s[i] != delim) {
        if (s[i] == '\\' && i + 1 < s.size()) {
            const char e = s[i + 1];
            i += 2;
            // Escapes nested deeper than any page needs are passed over as two characters.
            if (depth < kMaxDepth) skip_escape_argument(s, i, e, depth + 1);
        } else {
            ++i;
        }
    }
    if (i < s.size()) ++i;
}

// The text between the delimiters of an argument at s[i] ('...'), which is then skipped.
std::string_view delimited(std::string_view s, std::size_t& i) {
    const std::size_t start = i + 1;
    skip_delimited(s, i);
    const std::size_t end = i > start && i <= s.size() && s[i - 1] == s[start - 1] ? i - 1 : i;
    return s.substr(std::min(start, s.size()), end > start ? end - start : 0);
}

// "u00E9", "u0065_0301": code points named in hexadecimal.
bool unicode_name(std::string_view name, std::string& out) {
    if (name.size() < 5 || name[0] != 'u') return false;
    std::string text;
    std::uint32_t c = 0;
    std::size_t digits = 0;
    for (std::size_t i = 1; i <= name.size(); ++i) {
        const char ch = i < name.size() ? name[i] : '_';
        if (ch == '_') {
            if (digits < 4 || digits > 6) return false;
            text::append_utf8(text, c);
            c = 0;
            digits = 0;
            continue;
        }
        const int v = is_digit(ch)               ? ch - '0'
                      : (ch >= 'A' && ch <= 'F') ? ch - 'A' + 10
                      : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10
                                                 : -1;
        if (v < 0 || ++digits > 6) return false;
        c = c * 16 + static_cast<std::uint32_t>(v);
    }
    out += text;
    return true;
}

}  // namespace

std::vector<std::string> split_args(std::string_view s) {
    std::vector<std::string> args;
    std::size_t i = 0;
    while (true) {
        while (i < s.size() && is_blank(s[i])) ++i;
        if (i >= s.size()) break;
        std::string arg;
        if (s[i] == '"') {
            ++i;
            while (i < s.size()) {
                if (s[i] == '"') {
                    if (i + 1 < s.size() && s[i + 1] == '"') {
                        arg += '"';
                        i += 2;
                        continue;
                    }
                    ++i;
                    break;
                }
                if (s[i] == '\\' && i + 1 < s.size()) arg += s[i++];
                arg += s[i++];
            }
        } else {
            while (i < s.size() && !is_blank(s[i])) {
                if (s[i] == '\\' && i + 1 < s.size()) arg += s[i++];
                arg += s[i++];
            }
        }
        args.push_back(std::move(arg));
    }
    return args;
}

Interpreter::Interpreter(std::size_t input_bytes)
    : budget_(input_bytes * 8 + (std::size_t{1} << 16)) {
    registers_[".g"] = 1;  // the pages' tests for groff: their groff branch is the plain one
    // Strings that man(7) and mdoc(7) predefine.
    for (const auto& [name, value] : {std::pair{"R", "\\(rg"},
                                      {"Tm", "\\(tm"},
                                      {"lq", "\\(lq"},
                                      {"rq", "\\(rq"},
                                      {"Lq", "\\(lq"},
                                      {"Rq", "\\(rq"},
                                      {"Pi", "\\(*p"},
                                      {"Le", "\\(<="},
                                      {"Ge", "\\(>="},
                                      {"Ne", "\\(!="},
                                      {"Am", "&"},
                                      {"Ba", "|"},
                                      {"Na", "NaN"}}) {
        strings_[name] = value;
    }
}

void Interpreter::define_string(const std::string& name, std::string_view value, bool append) {
    while (!value.empty() && is_blank(value.front())) value.remove_prefix(1);
    if (!value.empty() && value.front() == '"') value.remove_prefix(1);
    std::string& s = strings_[name];
    if (!append) s.clear();
    s += value;
}

void Interpreter::set_register(const std::string& name, std::string_view expr) {
    while (!expr.empty() && is_blank(expr.front())) expr.remove_prefix(1);
    double& r = registers_[name];
    if (!expr.empty() && (expr.front() == '+' || expr.front() == '-')) {
        const double sign = expr.front() == '+' ? 1 : -1;
        expr.remove_prefix(1);
        r += sign * expression(expr);
    } else {
        r = expression(expr);
    }
}

bool Interpreter::render(std::string_view s, std::string& out) {
    return render(s, out, 0);
}

bool Interpreter::render(std::string_view s, std::string& out, int depth) {
    std::size_t i = 0;
    const std::size_t n = s.size();
    while (i < n) {
        const char c = s[i];
        if (c != '\\') {
            out += c;
            ++i;
            continue;
        }
        if (i + 1 >= n) break;  // a lone backslash at the end joins lines: nothing to show
        const char e = s[i + 1];
        i += 2;
        switch (e) {
            case '"':
            case '!':
                return false;  // a comment, or output for the device: the rest of the line
            case '#':
                return true;  // a comment that also joins the next line
            case 'c':
                if (i >= n) return true;
                break;
            case '\\':
            case 'e':
            case 'E':
                out += '\\';
                break;
            case ' ':
            case '~':
            case '0':
            case 't':
                out += ' ';
                break;
            case '-':
            case '.':
            case '\'':
            case '`':
            case '_':
                out += e == '_' ? '_' : e;
                break;
            case '|':
            case '^':
            case '&':
            case ')':
            case ',':
            case '/':
            case ':':
            case '%':
            case '{':
            case '}':
            case 'a':
            case 'p':
            case 'r':
            case 'u':
            case 'd':
            case 'z':
                break;
            case '(':
            case '[': {
                --i;
                special(read_name(s, i), out);
                break;
            }
            case 'C':
                special(delimited(s, i), out);
                break;
            case '*': {
                std::string_view name = read_name(s, i);
                name = name.substr(0, name.find(' '));  // \*[name args]: the name
                const auto it = strings_.find(std::string(name));
                if (it != strings_.end() && depth < kMaxDepth && it->second.size() <= budget_) {
                    budget_ -= it->second.size();
                    const std::string value = it->second;  // a string may redefine itself
                    render(value, out, depth + 1);
                }
                break;
            }
            case '?': {
                const std::size_t end = s.find("\\?", i);
                i = end == std::string_view::npos ? n : end + 2;
                break;
            }
            default:
                // Escapes whose arguments are not text (fonts, sizes, motions, registers...);
                // any other escaped character stands for itself.
                if (std::string_view("fFgkmMYVOn$sbowhvlLDXZABxRSHN").find(e) !=
                    std::string_view::npos) {
                    skip_escape_argument(s, i, e);
                } else {
                    out += e;
                }
                break;
        }
    }
    return false;
}

void Interpreter::special(std::string_view name, std::string& out) const {
    name = name.substr(0, name.find(' '));
    if (unicode_name(name, out)) return;
    const auto* g = std::lower_bound(kGlyphs.begin(), kGlyphs.end(), name,
                                     [](const Glyph& a, std::string_view b) { return a.name < b; });
    if (g != kGlyphs.end() && g->name == name) {
        out += g->text;
        return;
    }
    if (name.size() == 2 && name[0] == '*') {
        const auto at = kGreekLatin.find(static_cast<char>(name[1] | 0x20));
        if (at != std::string_view::npos) {
            const bool upper = name[1] >= 'A' && name[1] <= 'Z';
            // Each capital Greek letter is 32 code points below its small letter.
            text::append_utf8(out, kGreekLower[at] - (upper ? 32 : 0));
            return;
        }
    }
    if (name.size() == 2) {
        for (const Accent& a : kAccents) {
            if (a.mark != name[0]) continue;
            const auto at = a.letters.find(name[1]);
            if (at != std::string_view::npos) {
                text::append_utf8(out, a.composed[at]);
                return;
            }
        }
    }
    // An unknown character: nothing, rather than its name.
}

bool Interpreter::condition(std::string_view& s) {
    while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
    bool negate = false;
    while (!s.empty() && s.front() == '!') {
        negate = !negate;
        s.remove_prefix(1);
    }
    bool holds = false;
    const char c = s.empty() ? ' ' : s.front();
    if (c == 'n' || c == 't' || c == 'o' || c == 'e' || c == 'v') {
        holds = c == 'n' || c == 'o';
        s.remove_prefix(1);
    } else if (c == 'd' || c == 'r' || c == 'c' || c == 'm' || c == 'F' || c == 'S') {
        s.remove_prefix(1);
        while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
        std::size_t end = 0;
        while (end < s.size() && !is_blank(s[end])) ++end;
        const std::string name(s.substr(0, end));
        s.remove_prefix(end);
        holds = (c == 'd' && strings_.contains(name)) || (c == 'r' && registers_.contains(name));
    } else if (!is_digit(c) && c != '(' && c != '\\' && c != '+' && c != '-' && c != '.' &&
               c != '|' && !is_blank(c)) {
        // 'one'two': the two strings compared as they print.
        std::size_t i = 0;
        const std::string_view a = delimited(s, i);
        --i;  // the middle delimiter opens the second string
        const std::string_view b = i < s.size() ? delimited(s, i) : std::string_view{};
        s.remove_prefix(std::min(i, s.size()));
        holds = render(a) == render(b);
    } else {
        holds = expression(s) > 0;
    }
    while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
    return holds != negate;
}

// groff's numeric expressions: evaluated left to right, no precedence, parentheses; units are
// read and ignored (only comparisons and truth matter here).
double Interpreter::expression(std::string_view& s, int depth) {
    double value = term(s, depth);
    while (!s.empty() && !is_blank(s.front()) && s.front() != ')') {
        std::string_view op;
        for (const std::string_view o : {"<=", ">=", "==", "<>", "<?", ">?", "+", "-", "*", "/",
                                         "%", "<", ">", "=", "&", ":"}) {
            if (s.starts_with(o)) {
                op = o;
                break;
            }
        }
        if (op.empty()) break;
        s.remove_prefix(op.size());
        const double rhs = term(s, depth);
        if (op == "+")
            value += rhs;
        else if (op == "-")
            value -= rhs;
        else if (op == "*")
            value *= rhs;
        else if (op == "/")
            value = rhs == 0 ? 0 : value / rhs;
        else if (op == "%")
            value = rhs == 0 ? 0 : std::fmod(value, rhs);
        else if (op == "<")
            value = value < rhs ? 1 : 0;
        else if (op == ">")
            value = value > rhs ? 1 : 0;
        else if (op == "<=")
            value = value <= rhs ? 1 : 0;
        else if (op == ">=")
            value = value >= rhs ? 1 : 0;
        else if (op == "=" || op == "==")
            value = value == rhs ? 1 : 0;
        else if (op == "<>")
            value = value != rhs ? 1 : 0;
        else if (op == "&")
            value = value > 0 && rhs > 0 ? 1 : 0;
        else if (op == ":")
            value = value > 0 || rhs > 0 ? 1 : 0;
        else if (op == "<?")
            value = std::min(value, rhs);
        else
            value = std::max(value, rhs);
        if (!std::isfinite(value)) value = 0;
    }
    return value;
}

double Interpreter::term(std::string_view& s, int depth) {
    double sign = 1;
    while (!s.empty() && (s.front() == '-' || s.front() == '+')) {
        if (s.front() == '-') sign = -sign;
        s.remove_prefix(1);
    }
    if (s.empty()) return 0;
    const char c = s.front();
    if (c == '(') {
        s.remove_prefix(1);
        // Parentheses nested deeper than any page needs are worth nothing.
        const double v = depth < kMaxDepth ? sign * expression(s, depth + 1) : 0;
        if (!s.empty() && s.front() == ')') s.remove_prefix(1);
        return v;
    }
    if (c == '\\' && s.size() > 1) {
        if (s[1] == 'n') {
            s.remove_prefix(2);
            return sign * register_value(s);
        }
        // Another escape in an expression (a width, say): skipped, worth nothing.
        std::size_t i = 2;
        skip_escape_argument(s, i, s[1]);
        s.remove_prefix(std::min(i, s.size()));
        return 0;
    }
    double v = 0;
    std::size_t i = 0;
    double scale = 0;
    while (i < s.size() && (is_digit(s[i]) || s[i] == '.')) {
        if (s[i] == '.') {
            scale = scale == 0 ? 1 : scale;
        } else if (scale > 0) {
            scale /= 10;
            v += (s[i] - '0') * scale;
        } else if (v < 1e12) {
            v = v * 10 + (s[i] - '0');
        }
        ++i;
    }
    if (i < s.size() && std::string_view("icpPmnvuMszf").find(s[i]) != std::string_view::npos) {
        ++i;
    }
    if (i == 0) i = 1;  // not a number at all: skipped
    s.remove_prefix(std::min(i, s.size()));
    return sign * v;
}

double Interpreter::register_value(std::string_view& s) {
    if (!s.empty() && (s.front() == '+' || s.front() == '-')) s.remove_prefix(1);
    std::size_t i = 0;
    const std::string name(read_name(s, i));
    s.remove_prefix(i);
    const auto it = registers_.find(name);
    return it == registers_.end() ? 0 : it->second;
}

}  // namespace rk::inputs::roff
