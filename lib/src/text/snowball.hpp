// The `rk_snowball LANGUAGE [rk_words] ARGS...` FTS5 tokenizer: unicode61's tokens
// (case-folded, diacritics removed; with rk_words, through its word layer) stemmed by
// libstemmer's Snowball stemmer for LANGUAGE.
#pragma once

#include <sqlite3.h>

#include <string>
#include <vector>

namespace rk::text {

// Registers the tokenizer on one connection. Returns an SQLite error code.
int register_snowball(sqlite3* db);

// The languages libstemmer knows ("english", "french", ...).
std::vector<std::string> snowball_languages();

}  // namespace rk::text
