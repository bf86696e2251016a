// The `rk_words INNER ARGS...` FTS5 tokenizer: the tokens of the tokenizer INNER (made with
// ARGS, unicode61 in rk's indexes), made findable by their parts and comparable across
// spellings:
// - a token written in camelCase or PascalCase ("parseConfig", "XMLHttpRequest") is indexed
//   whole and as its parts, and a query asks for its parts, so that code is found by the
//   words its names are made of (snake_case needs nothing: "_" already separates tokens);
// - a run of Chinese, Japanese or Korean characters, which unicode61 keeps as one token since
//   these scripts do not space their words, becomes its overlapping pairs of characters, as
//   Lucene's CJK bigram filter does ("東京都" as "東京" and "京都"); a document also holds each
//   character, which a query of one character asks for;
// - any other token with non-ASCII characters is NFKC-casefolded (ICU): "große" and
//   "GROSSE", "ﬁle" and "file", fullwidth and ASCII letters meet.
#pragma once

#include <sqlite3.h>

#include <string>
#include <string_view>
#include <vector>

namespace rk::text {

// Registers the tokenizer on one connection. Returns an SQLite error code.
int register_words(sqlite3* db);

// Where the ASCII word `word` splits into parts: the start of each part after the first, at a
// lower-case letter or digit followed by a capital ("parse|Config", "utf8|Decode") and before
// the last capital of a run followed by a lower-case letter ("XML|Http|Request"). Empty when
// `word` is not ASCII letters and digits, or when a part would be a single character ("mRNA",
// "iPhone", "PhD" stay whole).
std::vector<std::size_t> identifier_splits(std::string_view word);

// Whether code point `c` is written in a script without spaces between words (Han, Hiragana,
// Katakana, Hangul), whose runs rk_words cuts into pairs.
bool unspaced_script(char32_t c);

// `s` (UTF-8) NFKC-casefolded (ASCII: lower-cased); `s` itself when ICU cannot fold it.
std::string nfkc_casefold(std::string_view s);

}  // namespace rk::text
