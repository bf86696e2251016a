// How ids and paths are printed so that whatever bytes they hold come back exactly: one rule
// for every output (rk-query(1), IDS IN MACHINE FORMATS), and its inverse for every input
// that names a document (rk get, rk rm, rk eval, the servers' get).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "rk/json.hpp"

namespace rk {

// An id as line formats (tsv, trec, text, markdown) print it: a backslash as "\\", tab,
// newline and carriage return as "\t", "\n", "\r", any other control byte and any byte that
// is not part of well-formed UTF-8 as "\xHH" (lowercase hex). With `escape_space` (TREC, whose
// fields are split at spaces) a space is "\x20" too. Everything else, '#' and a leading '-'
// included, stands for itself. An id that needs none of this prints as it is.
std::string escape_id(std::string_view id, bool escape_space = false);

// The inverse of escape_id (also taking "\xHH" for any byte, in either case): nullopt when
// `text` holds a backslash that starts none of those escapes, as a path typed with a literal
// backslash may.
std::optional<std::string> unescape_id(std::string_view text);

// True when escape_id would change `id` (with `escape_space` as there).
bool id_needs_escape(std::string_view id, bool escape_space = false) noexcept;

// Writes `key` and the id into an open JSON object: the id itself when it is valid UTF-8
// without a NUL (JSON strings carry such text exactly), else escape_id's form followed by
// `key`_escaped: true (JSON strings cannot carry other bytes, nor a command line a NUL).
void write_id(JsonWriter& w, std::string_view key, std::string_view id);

}  // namespace rk
