// The rk.db schema, its version and migrations, and the settings it records.
#pragma once

#include "rk/index.hpp"
#include "store/sqlite.hpp"

namespace rk::store {

// Bumped whenever the schema changes; each step has a migration in schema.cpp.
inline constexpr int kSchemaVersion = 6;

// The FTS5 `tokenize` argument for a tokenizer setting, with rk's word layer (rk_words:
// camelCase parts, CJK pairs, NFKC casefolding) unless `split_words` is false (indexes made
// before it); throws UsageError if the tokenizer is unknown.
std::string fts_tokenize_arg(const std::string& tokenizer, bool split_words);

// Creates the schema at the current version in an empty database and records `settings`.
void create_schema(Database& db, const Settings& settings);
// Brings an older schema up to date, returning whether it was older; throws IndexError for
// one newer than this build knows.
bool migrate(Database& db);
// Reads the recorded settings and checks them against what this build supports.
Settings load_settings(Database& db);
void check_settings(const Settings& s);

}  // namespace rk::store
