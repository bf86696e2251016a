#include "lexical/fts_functions.hpp"

#include "text/fts5_api.hpp"

namespace rk::lexical {

namespace {

constexpr int kBits = 21;
constexpr std::int64_t kMax = (std::int64_t{1} << kBits) - 1;

void field_tf(const Fts5ExtensionApi* api, Fts5Context* fts, sqlite3_context* ctx, int /*argc*/,
              sqlite3_value** /*argv*/) {
    int n = 0;
    if (const int rc = api->xInstCount(fts, &n); rc != SQLITE_OK) {
        sqlite3_result_error_code(ctx, rc);
        return;
    }
    std::array<std::int64_t, 3> tf{};
    for (int i = 0; i < n; ++i) {
        int phrase = 0, column = 0, offset = 0;
        if (api->xInst(fts, i, &phrase, &column, &offset) != SQLITE_OK) continue;
        if (phrase == 0 && column >= 0 && column < 3) {
            auto& count = tf[static_cast<std::size_t>(column)];
            count = std::min(count + 1, kMax);
        }
    }
    sqlite3_result_int64(ctx, tf[0] | (tf[1] << kBits) | (tf[2] << (2 * kBits)));
}

}  // namespace

int register_fts_functions(sqlite3* db) {
    fts5_api* api = text::fts5_api_of(db);
    if (api == nullptr) return SQLITE_ERROR;
    return api->xCreateFunction(api, "rk_field_tf", nullptr, field_tf, nullptr);
}

std::array<std::uint32_t, 3> unpack_field_tf(std::int64_t packed) {
    std::array<std::uint32_t, 3> tf{};
    for (std::size_t f = 0; f < 3; ++f) {
        tf[f] = static_cast<std::uint32_t>((packed >> (kBits * static_cast<int>(f))) & kMax);
    }
    return tf;
}

}  // namespace rk::lexical
