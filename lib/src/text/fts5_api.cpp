#include "text/fts5_api.hpp"

namespace rk::text {

fts5_api* fts5_api_of(sqlite3* db) {
    fts5_api* api = nullptr;
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, nullptr) == SQLITE_OK) {
        sqlite3_bind_pointer(st, 1, static_cast<void*>(&api), "fts5_api_ptr", nullptr);
        (void)sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return api;
}

}  // namespace rk::text
