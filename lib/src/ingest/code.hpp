// Source code, read as text cut at its top-level definitions.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "ingest/readers.hpp"

namespace rk::inputs {

// How a language marks blocks and comments, as far as finding its top level needs.
enum class Syntax {
    braces,  // {} blocks, // and /* */ comments, "" '' `` strings: C, Java, JavaScript, Go...
    hashes,  // indentation or keyword blocks, # comments: Python, Ruby, shell, Perl, R...
    dashes,  // keyword blocks, -- comments: Lua, SQL, Haskell
};

struct Language {
    std::string_view name;  // "c", "python": the document's "language" metadata
    Syntax syntax;
    bool calls_define;  // a top-level "name(...)" defines name (C's functions, shell's)
    bool newline_ends;  // a statement may end at a line's end, without ";" (Go, JavaScript)
};

// Every language read as code.
std::span<const Language> languages();

// The language of a file by its name ("main.c", "CMakeLists.txt", "Makefile"), else by its
// "#!" line when the name has no extension; nullptr for anything else.
const Language* language_for(std::string_view filename, std::string_view head);

// Source code: one segment per paragraph, cut at each top-level statement, and a new section
// (chunks never run across it) at each definition, whose heading is the name it defines
// ("parse_config", "Server", "impl Display for Point"). Comments right above a definition go
// with it; top-level lines that define nothing (imports, globals) are sections without a
// heading. The text is kept as it is; the "language" is metadata.
Parsed read_code(std::string_view text, const Language& language);

// The name a definition's first lines ("static int parse_config(const char *p)", "def f(x):",
// "class Foo(Base):", "func (s *S) Run() {", "const f = (x) => {") define, or empty.
// `calls_define`: a call-shaped header names a function (see Language).
std::string definition_name(std::string_view header, bool calls_define);

}  // namespace rk::inputs
