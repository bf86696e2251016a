// mdoc(7) lines as words.
#include "ingest/roff_mdoc.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace rk::inputs::roff {

namespace {

// mdoc(7)'s macros that may be called from another's line, and what they print around
// their arguments.
struct Enclosure {
    std::string_view macro, open, close;
};
constexpr std::array kEnclosures = std::to_array<Enclosure>({
    {"Aq", "⟨", "⟩"},
    {"Bq", "[", "]"},
    {"Brq", "{", "}"},
    {"Dq", "“", "”"},
    {"Op", "[", "]"},
    {"Pq", "(", ")"},
    {"Qq", "\"", "\""},
    {"Sq", "‘", "’"},
    {"Ql", "‘", "’"},
});
struct Bracket {
    std::string_view macro, text;
    bool opens;
};
constexpr std::array kBrackets = std::to_array<Bracket>({
    {"Ao", "⟨", true},  {"Ac", "⟩", false},  {"Bo", "[", true}, {"Bc", "]", false},
    {"Bro", "{", true}, {"Brc", "}", false}, {"Do", "“", true}, {"Dc", "”", false},
    {"Oo", "[", true},  {"Oc", "]", false},  {"Po", "(", true}, {"Pc", ")", false},
    {"Qo", "\"", true}, {"Qc", "\"", false}, {"So", "‘", true}, {"Sc", "’", false},
    {"Fc", ")", false}, {"Eo", "", true},    {"Ec", "", false}, {"Xo", "", true},
    {"Xc", "", false},
});
constexpr std::array<std::string_view, 47> kCallable = {
    "Ad", "An", "Ap", "Ar", "At", "Bsx", "Bx", "Cd", "Cm", "Dv", "Dx", "Em", "Er", "Ev", "Fa", "Fl",
    "Fn", "Fo", "Fr", "Ft", "Fx", "Ic",  "In", "Li", "Lk", "Ms", "Mt", "Nm", "No", "Ns", "Nx", "Ot",
    "Ox", "Pa", "Pf", "St", "Sx", "Sy",  "Ta", "Tn", "Ux", "Va", "Vt", "Xr", "Lb", "Hf", "Es"};

const Enclosure* enclosure(std::string_view m) {
    const auto* e = std::find_if(kEnclosures.begin(), kEnclosures.end(),
                                 [&](const Enclosure& x) { return x.macro == m; });
    return e == kEnclosures.end() ? nullptr : e;
}
const Bracket* bracket(std::string_view m) {
    const auto* b = std::find_if(kBrackets.begin(), kBrackets.end(),
                                 [&](const Bracket& x) { return x.macro == m; });
    return b == kBrackets.end() ? nullptr : b;
}
}  // namespace

bool is_mdoc_macro(std::string_view m) {
    return enclosure(m) != nullptr || bracket(m) != nullptr ||
           std::find(kCallable.begin(), kCallable.end(), m) != kCallable.end();
}
namespace {

// A token that mdoc sets against the word before (closing) or after (opening) it.
bool closing_delimiter(std::string_view t) {
    return t.size() == 1 && std::string_view(".,:;)]?!").find(t[0]) != std::string_view::npos;
}
bool opening_delimiter(std::string_view t) {
    return t == "(" || t == "[";
}

// Words joined by single spaces, except where mdoc's punctuation or Ns says otherwise.
struct Words {
    std::string out;
    bool attach = false;  // the next word follows without a space
    void word(std::string_view w) {
        if (w.empty()) return;
        if (!out.empty() && !attach) out += ' ';
        out += w;
        attach = false;
    }
    void close(std::string_view w) {
        out += w;
        attach = false;
    }
    void open(std::string_view w) {
        word(w);
        attach = true;
    }
};

}  // namespace

std::string mdoc_words(Interpreter& roff, std::string& page_name, std::string_view macro,
                       std::string_view rest, bool only_args) {
    std::vector<std::string> tokens = split_args(rest);
    if (!only_args) tokens.insert(tokens.begin(), std::string(macro));
    // Trailing punctuation follows the enclosures the line opened.
    std::size_t tail = tokens.size();
    while (tail > 0 && closing_delimiter(tokens[tail - 1])) --tail;
    Words w;
    std::vector<std::string_view> closers;
    std::string_view current;  // the macro whose arguments are being read
    std::size_t args_seen = 0;
    bool fn_open = false;  // Fn's parenthesis, closed by the next macro or the line's end
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        const std::string& t = tokens[i];
        if (i == tail) {
            while (!closers.empty()) {
                w.close(closers.back());
                closers.pop_back();
            }
        }
        const bool is_macro = is_mdoc_macro(t);
        if (is_macro && fn_open) {
            w.close(")");
            fn_open = false;
        }
        if (const Enclosure* e = enclosure(t)) {
            w.open(e->open);
            closers.push_back(e->close);
            current = t;
            continue;
        }
        if (const Bracket* b = bracket(t)) {
            if (b->opens) {
                w.open(b->text);
            } else {
                w.close(b->text);
            }
            current = t;
            args_seen = 0;
            continue;
        }
        if (is_macro) {
            current = t;
            args_seen = 0;
            const bool has_arg = i + 1 < tokens.size() && !is_mdoc_macro(tokens[i + 1]) &&
                                 !closing_delimiter(tokens[i + 1]);
            if (t == "Ns" || t == "Pf") w.attach = true;
            if (t == "Ap") {
                w.close("'");
                w.attach = true;
            }
            if (t == "Ta") w.word(" ");
            if (t == "Fl" && !has_arg) w.word("-");
            if (t == "Nm" && !has_arg) w.word(page_name);
            if (t == "Nm" && has_arg && page_name.empty()) {
                page_name = roff.render(tokens[i + 1]);
            }
            for (const auto& [m, text] : {std::pair{"Ux", "UNIX"},
                                          {"Bx", "BSD"},
                                          {"Bsx", "BSD/OS"},
                                          {"Fx", "FreeBSD"},
                                          {"Nx", "NetBSD"},
                                          {"Ox", "OpenBSD"},
                                          {"Dx", "DragonFly"},
                                          {"At", "AT&T UNIX"}}) {
                if (t == m) w.word(text);
            }
            continue;
        }
        const std::string text = roff.render(t);
        if (closing_delimiter(t)) {
            w.close(text);
            continue;
        }
        if (opening_delimiter(t)) {
            w.open(text);
            continue;
        }
        ++args_seen;
        if (current == "Fl") {
            w.word("-" + text);
        } else if (current == "Xr" && args_seen == 2) {
            w.close("(" + text + ")");
        } else if (current == "Fn" && args_seen == 1) {
            w.word(text);
            w.close("(");
            w.attach = true;
            fn_open = true;
        } else if (current == "Fn") {
            if (args_seen > 2) w.close(",");
            w.word(text);
        } else if (current == "St" && text.starts_with('-')) {
            w.word(text.substr(1));
        } else {
            w.word(text);
        }
    }
    if (fn_open) w.close(")");
    while (!closers.empty()) {
        w.close(closers.back());
        closers.pop_back();
    }
    return w.out;
}

}  // namespace rk::inputs::roff
