#include "text/snowball.hpp"

#include <libstemmer.h>
#include <sqlite3.h>

#include <cstring>
#include <memory>

#include "text/fts5_api.hpp"

namespace rk::text {

namespace {

struct Snowball {
    fts5_tokenizer inner_api{};
    Fts5Tokenizer* inner = nullptr;
    sb_stemmer* stemmer = nullptr;

    Snowball() = default;
    Snowball(const Snowball&) = delete;
    Snowball& operator=(const Snowball&) = delete;
    ~Snowball() {
        if (inner != nullptr) inner_api.xDelete(inner);
        if (stemmer != nullptr) sb_stemmer_delete(stemmer);
    }
};

struct Forward {
    void* ctx;
    int (*token)(void*, int, const char*, int, int, int);
    sb_stemmer* stemmer;
};

int create(void* user, const char** args, int n_args, Fts5Tokenizer** out) {
    auto* api = static_cast<fts5_api*>(user);
    if (n_args < 1) return SQLITE_ERROR;
    auto s = std::make_unique<Snowball>();
    s->stemmer = sb_stemmer_new(args[0], "UTF_8");
    if (s->stemmer == nullptr) return SQLITE_ERROR;
    // "LANGUAGE rk_words unicode61 ARGS" stems the tokens of rk_words;
    // "LANGUAGE ARGS" those of unicode61 (an index made before rk_words existed).
    const bool words = n_args >= 2 && std::strcmp(args[1], "rk_words") == 0;
    void* inner_user = nullptr;
    int rc = api->xFindTokenizer(api, words ? "rk_words" : "unicode61", &inner_user, &s->inner_api);
    if (rc != SQLITE_OK) return rc;
    const int skip = words ? 2 : 1;
    rc = s->inner_api.xCreate(inner_user, args + skip, n_args - skip, &s->inner);
    if (rc != SQLITE_OK) return rc;
    *out = reinterpret_cast<Fts5Tokenizer*>(s.release());
    return SQLITE_OK;
}

void destroy(Fts5Tokenizer* t) {
    delete reinterpret_cast<Snowball*>(t);
}

int stem_token(void* ctx, int flags, const char* token, int n, int start, int end) {
    const auto* f = static_cast<Forward*>(ctx);
    const sb_symbol* stem =
        sb_stemmer_stem(f->stemmer, reinterpret_cast<const sb_symbol*>(token), n);
    if (stem == nullptr) return SQLITE_NOMEM;
    return f->token(f->ctx, flags, reinterpret_cast<const char*>(stem),
                    sb_stemmer_length(f->stemmer), start, end);
}

int tokenize(Fts5Tokenizer* t, void* ctx, int flags, const char* text, int n,
             int (*token)(void*, int, const char*, int, int, int)) {
    auto* s = reinterpret_cast<Snowball*>(t);
    Forward f{ctx, token, s->stemmer};
    return s->inner_api.xTokenize(s->inner, &f, flags, text, n, stem_token);
}

}  // namespace

int register_snowball(sqlite3* db) {
    fts5_api* api = fts5_api_of(db);
    if (api == nullptr) return SQLITE_ERROR;
    fts5_tokenizer methods{create, destroy, tokenize};
    return api->xCreateTokenizer(api, "rk_snowball", api, &methods, nullptr);
}

std::vector<std::string> snowball_languages() {
    std::vector<std::string> out;
    for (const char** l = sb_stemmer_list(); *l != nullptr; ++l) out.emplace_back(*l);
    return out;
}

}  // namespace rk::text
