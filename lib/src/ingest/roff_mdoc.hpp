// mdoc(7), the BSD manual macros: a line of them as the words it prints.
#pragma once

#include <string>
#include <string_view>

#include "ingest/roff_text.hpp"

namespace rk::inputs::roff {

// Whether `name` is one of mdoc's callable macros (Fl, Ar, Op, Xr...): at the start of a line
// it prints its arguments, and it is read as a macro among another's arguments.
bool is_mdoc_macro(std::string_view name);

// The words of an mdoc line, `macro` and the rest of its line: callable macros among the
// arguments interpreted (Fl's flags, Xr's references, Fn's calls), enclosures such as Op and
// Dq opened and closed, punctuation set against its word, escapes rendered by `roff`.
// `only_args`: the macro itself prints nothing (a heading, an item's tag). `page_name` is the
// page's name (.Nm without arguments prints it), learnt from its first .Nm that has one.
std::string mdoc_words(Interpreter& roff, std::string& page_name, std::string_view macro,
                       std::string_view rest, bool only_args);

}  // namespace rk::inputs::roff
