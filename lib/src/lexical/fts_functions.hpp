// FTS5 auxiliary functions of rk's own, registered on every connection.
#pragma once

#include <sqlite3.h>

#include <array>
#include <cstdint>

namespace rk::lexical {

// rk_field_tf(chunks_fts): how often the query's first phrase occurs in each column of the
// current row, packed as title | heading << 21 | body << 42. Phrases and prefixes are ranked
// with these counts, since only FTS5 knows where they match.
int register_fts_functions(sqlite3* db);

std::array<std::uint32_t, 3> unpack_field_tf(std::int64_t packed);

}  // namespace rk::lexical
