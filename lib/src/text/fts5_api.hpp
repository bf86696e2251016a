// The FTS5 extension API of one connection, through which tokenizers and auxiliary functions
// are registered and found.
#pragma once

#include <sqlite3.h>

namespace rk::text {

// nullptr when this SQLite lacks FTS5.
fts5_api* fts5_api_of(sqlite3* db);

}  // namespace rk::text
