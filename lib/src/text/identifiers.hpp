// The `rk_identifiers INNER ARGS...` FTS5 tokenizer: the tokens of the tokenizer INNER (made
// with ARGS), and, for a token written in camelCase or PascalCase ("parseConfig",
// "XMLHttpRequest"), its parts too, so that code is found by the words its names are made of.
// snake_case needs nothing: "_" already separates tokens.
#pragma once

#include <sqlite3.h>

#include <string_view>
#include <vector>

namespace rk::text {

// Registers the tokenizer on one connection. Returns an SQLite error code.
int register_identifiers(sqlite3* db);

// Where the ASCII word `word` splits into parts: the start of each part after the first, at a
// lower-case letter or digit followed by a capital ("parse|Config", "utf8|Decode") and before
// the last capital of a run followed by a lower-case letter ("XML|Http|Request"). Empty when
// `word` is not ASCII letters and digits, or when a part would be a single character ("mRNA",
// "iPhone", "PhD" stay whole).
std::vector<std::size_t> identifier_splits(std::string_view word);

}  // namespace rk::text
