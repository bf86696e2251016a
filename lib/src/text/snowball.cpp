#include "text/snowball.hpp"

#include <libstemmer.h>
#include <sqlite3.h>

#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "text/fts5_api.hpp"

namespace rk::text {

namespace {

// The stems of recent words, by a hash of the word: a Snowball stemmer costs several times
// what FTS5's own Porter stemmer does, and most of a text's words were seen a moment ago.
class StemCache {
  public:
    static constexpr std::size_t kMaxWord = 24;  // longer words are stemmed every time

    // The stem of `word` (`n` bytes), stemmed by `stemmer` when it is not held.
    std::string_view stem(sb_stemmer* stemmer, const char* word, int n) {
        const auto size = static_cast<std::size_t>(n);
        if (size > kMaxWord) return stem_now(stemmer, word, n);
        Slot& slot = slots_[std::hash<std::string_view>{}({word, size}) % kSlots];
        if (slot.word == std::string_view(word, size)) return slot.stem;
        const std::string_view stem = stem_now(stemmer, word, n);
        if (stem.data() == nullptr) return stem;
        slot.word.assign(word, size);
        slot.stem.assign(stem);
        return slot.stem;
    }

  private:
    static constexpr std::size_t kSlots = 4096;
    struct Slot {
        std::string word, stem;
    };
    static std::string_view stem_now(sb_stemmer* stemmer, const char* word, int n) {
        const sb_symbol* stem =
            sb_stemmer_stem(stemmer, reinterpret_cast<const sb_symbol*>(word), n);
        if (stem == nullptr) return {};
        return {reinterpret_cast<const char*>(stem),
                static_cast<std::size_t>(sb_stemmer_length(stemmer))};
    }
    std::vector<Slot> slots_ = std::vector<Slot>(kSlots);
};

struct Snowball {
    fts5_tokenizer inner_api{};
    Fts5Tokenizer* inner = nullptr;
    sb_stemmer* stemmer = nullptr;
    StemCache cache;

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
    Snowball* snowball;
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
    const std::string_view stem = f->snowball->cache.stem(f->snowball->stemmer, token, n);
    if (stem.data() == nullptr) return SQLITE_NOMEM;
    return f->token(f->ctx, flags, stem.data(), static_cast<int>(stem.size()), start, end);
}

int tokenize(Fts5Tokenizer* t, void* ctx, int flags, const char* text, int n,
             int (*token)(void*, int, const char*, int, int, int)) {
    auto* s = reinterpret_cast<Snowball*>(t);
    Forward f{ctx, token, s};
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
