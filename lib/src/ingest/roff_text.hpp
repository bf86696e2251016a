// The roff language below the level of macros: escape sequences, special characters, strings,
// number registers and the conditions of .if/.ie, as groff(7) defines them, interpreted only as
// far as plain text needs: what a page says, not how it is set.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rk::inputs::roff {

// A request's or macro's arguments: separated by blanks, or "double quoted" (where "" is a
// quote). Escapes are left in place; an escaped blank ("\ ") does not separate.
std::vector<std::string> split_args(std::string_view s);

class Interpreter {
  public:
    // `input_bytes` bounds the text that string interpolation may make (a page whose strings
    // expand each other exponentially stops growing at a multiple of its own size).
    explicit Interpreter(std::size_t input_bytes);

    // Appends the text `s` means to `out` (UTF-8): escapes interpreted, fonts, sizes, motions
    // and comments dropped, special characters and strings substituted. Returns true when `s`
    // ends in \c (the next input line continues this one, without a space).
    bool render(std::string_view s, std::string& out);
    std::string render(std::string_view s) {
        std::string out;
        render(s, out);
        return out;
    }

    // .ds NAME VALUE and .as NAME VALUE.
    void define_string(const std::string& name, std::string_view value, bool append);
    // .nr NAME [+|-]EXPRESSION.
    void set_register(const std::string& name, std::string_view expression);

    // Consumes the condition at the start of `s` (what follows .if or .ie) and says whether
    // it holds, as nroff would judge it: "n" holds, "t" does not, registers are what .nr set
    // (.g is 1, as under groff), and "d NAME" asks whether a string is defined.
    bool condition(std::string_view& s);

  private:
    bool render(std::string_view s, std::string& out, int depth);
    void special(std::string_view name, std::string& out) const;
    double expression(std::string_view& s, int depth = 0);
    double term(std::string_view& s, int depth);
    double register_value(std::string_view& s);

    std::unordered_map<std::string, std::string> strings_;
    std::unordered_map<std::string, double> registers_;
    std::size_t budget_;  // bytes string interpolation may still add
};

}  // namespace rk::inputs::roff
