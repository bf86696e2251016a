#include "text/identifiers.hpp"

#include <memory>
#include <string>

#include "text/fts5_api.hpp"

namespace rk::text {

namespace {

bool lower(char c) {
    return c >= 'a' && c <= 'z';
}
bool upper(char c) {
    return c >= 'A' && c <= 'Z';
}
bool digit(char c) {
    return c >= '0' && c <= '9';
}

struct Identifiers {
    fts5_tokenizer inner_api{};
    Fts5Tokenizer* inner = nullptr;

    Identifiers() = default;
    Identifiers(const Identifiers&) = delete;
    Identifiers& operator=(const Identifiers&) = delete;
    ~Identifiers() {
        if (inner != nullptr) inner_api.xDelete(inner);
    }
};

using TokenCallback = int (*)(void*, int, const char*, int, int, int);

struct Forward {
    void* ctx;
    TokenCallback token;
    const char* text;
    int text_size;
    bool query;
    std::string part;
};

int split_token(void* ctx, int flags, const char* token, int n, int start, int end) {
    auto* f = static_cast<Forward*>(ctx);
    std::vector<std::size_t> splits;
    if ((flags & FTS5_TOKEN_COLOCATED) == 0 && start >= 0 && end <= f->text_size && start < end) {
        splits = identifier_splits(std::string_view(f->text + start, end - start));
    }
    // A query asks for the parts only, so that "parseConfig" also finds parse_config; a
    // document holds the whole word too, so that "parseconfig" still finds it.
    if (splits.empty() || !f->query) {
        const int rc = f->token(f->ctx, flags, token, n, start, end);
        if (rc != SQLITE_OK || splits.empty()) return rc;
    }
    splits.push_back(static_cast<std::size_t>(end - start));
    std::size_t from = 0;
    for (const std::size_t to : splits) {
        f->part.assign(f->text + start + from, to - from);
        for (char& c : f->part) {
            if (upper(c)) c = static_cast<char>(c - 'A' + 'a');
        }
        const int at = start + static_cast<int>(from);
        const int rc = f->token(f->ctx, 0, f->part.data(), static_cast<int>(f->part.size()), at,
                                start + static_cast<int>(to));
        if (rc != SQLITE_OK) return rc;
        from = to;
    }
    return SQLITE_OK;
}

int create(void* user, const char** args, int n_args, Fts5Tokenizer** out) {
    auto* api = static_cast<fts5_api*>(user);
    if (n_args < 1) return SQLITE_ERROR;
    auto t = std::make_unique<Identifiers>();
    void* inner_user = nullptr;
    int rc = api->xFindTokenizer(api, args[0], &inner_user, &t->inner_api);
    if (rc != SQLITE_OK) return rc;
    rc = t->inner_api.xCreate(inner_user, args + 1, n_args - 1, &t->inner);
    if (rc != SQLITE_OK) return rc;
    *out = reinterpret_cast<Fts5Tokenizer*>(t.release());
    return SQLITE_OK;
}

void destroy(Fts5Tokenizer* t) {
    delete reinterpret_cast<Identifiers*>(t);
}

int tokenize(Fts5Tokenizer* t, void* ctx, int flags, const char* text, int n, TokenCallback token) {
    auto* s = reinterpret_cast<Identifiers*>(t);
    Forward f{ctx, token, text, n, (flags & FTS5_TOKENIZE_QUERY) != 0, {}};
    return s->inner_api.xTokenize(s->inner, &f, flags, text, n, split_token);
}

}  // namespace

std::vector<std::size_t> identifier_splits(std::string_view w) {
    std::vector<std::size_t> splits;
    for (const char c : w) {
        if (!lower(c) && !upper(c) && !digit(c)) return {};
    }
    for (std::size_t i = 1; i < w.size(); ++i) {
        const char a = w[i - 1], b = w[i];
        const bool camel = (lower(a) || digit(a)) && upper(b);
        const bool acronym_end = upper(a) && upper(b) && i + 1 < w.size() && lower(w[i + 1]);
        if (camel || acronym_end) splits.push_back(i);
    }
    std::size_t from = 0;
    for (std::size_t k = 0; k <= splits.size(); ++k) {
        const std::size_t to = k < splits.size() ? splits[k] : w.size();
        if (to - from < 2) return {};
        from = to;
    }
    return splits;
}

int register_identifiers(sqlite3* db) {
    fts5_api* api = fts5_api_of(db);
    if (api == nullptr) return SQLITE_ERROR;
    fts5_tokenizer methods{create, destroy, tokenize};
    return api->xCreateTokenizer(api, "rk_identifiers", api, &methods, nullptr);
}

}  // namespace rk::text
