#include "text/words.hpp"

#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

#include <memory>
#include <string>

#include "text/fts5_api.hpp"
#include "text/utf8.hpp"

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

struct Layer {
    fts5_tokenizer inner_api{};
    Fts5Tokenizer* inner = nullptr;

    Layer() = default;
    Layer(const Layer&) = delete;
    Layer& operator=(const Layer&) = delete;
    ~Layer() {
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

// The code point of the `len`-byte UTF-8 sequence at s[i] (len from utf8_sequence_length, at
// least 1).
char32_t code_point(std::string_view s, std::size_t i, std::size_t len) {
    char32_t c = static_cast<unsigned char>(s[i]);
    if (len > 1) {
        c &= 0xFFU >> (len + 1);
        for (std::size_t k = 1; k < len; ++k) {
            c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3FU);
        }
    }
    return c;
}

// `colocated`: at the position of the token before, as FTS5 holds synonyms, so that phrases
// see the same positions in a document as in a query.
int emit(Forward* f, std::string_view token, int start, int end, bool colocated = false) {
    return f->token(f->ctx, colocated ? FTS5_TOKEN_COLOCATED : 0, token.data(),
                    static_cast<int>(token.size()), start, end);
}

// A token holding characters of an unspaced script: its runs of them as pairs of characters,
// what lies between them as tokens of their own, from the original text (offsets and all).
int split_unspaced(Forward* f, int start, int end) {
    struct Char {
        int at, size;
        bool unspaced;
    };
    std::vector<Char> chars;
    const std::string_view span(f->text + start, static_cast<std::size_t>(end - start));
    for (std::size_t i = 0; i < span.size();) {
        const std::size_t n = std::max<std::size_t>(1, utf8_sequence_length(span, i));
        chars.push_back({start + static_cast<int>(i), static_cast<int>(n),
                         unspaced_script(code_point(span, i, n))});
        i += n;
    }
    for (std::size_t i = 0; i < chars.size();) {
        std::size_t j = i;
        while (j < chars.size() && chars[j].unspaced == chars[i].unspaced) ++j;
        const int run_start = chars[i].at;
        const int run_end = chars[j - 1].at + chars[j - 1].size;
        const auto text = [&](int from, int to) {
            return std::string_view(f->text + from, static_cast<std::size_t>(to - from));
        };
        if (!chars[i].unspaced) {
            const int rc = emit(f, nfkc_casefold(text(run_start, run_end)), run_start, run_end);
            if (rc != SQLITE_OK) return rc;
        } else if (j - i == 1) {
            const int rc = emit(f, nfkc_casefold(text(run_start, run_end)), run_start, run_end);
            if (rc != SQLITE_OK) return rc;
        } else {
            // Each pair takes a position; a document also holds each character, at the
            // position of the pair it starts, so that a query of one character (a word of its
            // own, often, in Chinese) finds it while a quoted run still finds its pairs next
            // to each other. A longer query asks for pairs only.
            for (std::size_t k = i; k < j; ++k) {
                const int at = chars[k].at;
                const int char_end = at + chars[k].size;
                const bool last = k + 1 == j;
                if (!last) {
                    const int to = chars[k + 1].at + chars[k + 1].size;
                    const int rc = emit(f, nfkc_casefold(text(at, to)), at, to);
                    if (rc != SQLITE_OK) return rc;
                }
                if (!f->query) {
                    const int rc = emit(f, nfkc_casefold(text(at, char_end)), at, char_end, !last);
                    if (rc != SQLITE_OK) return rc;
                }
            }
        }
        i = j;
    }
    return SQLITE_OK;
}

int split_token(void* ctx, int flags, const char* token, int n, int start, int end) {
    auto* f = static_cast<Forward*>(ctx);
    const bool spans =
        (flags & FTS5_TOKEN_COLOCATED) == 0 && start >= 0 && end <= f->text_size && start < end;
    const std::string_view original =
        spans ? std::string_view(f->text + start, static_cast<std::size_t>(end - start))
              : std::string_view{};
    const std::string_view folded(token, static_cast<std::size_t>(n));
    bool ascii = true;
    for (const char c : folded) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
    if (!ascii) {
        // Unspaced scripts are cut from the original text; any other word is folded further.
        bool unspaced = false;
        for (std::size_t i = 0; spans && i < original.size() && !unspaced;) {
            const std::size_t len = std::max<std::size_t>(1, utf8_sequence_length(original, i));
            unspaced = unspaced_script(code_point(original, i, len));
            i += len;
        }
        if (unspaced) return split_unspaced(f, start, end);
        const std::string t = nfkc_casefold(folded);
        return f->token(f->ctx, flags, t.data(), static_cast<int>(t.size()), start, end);
    }
    std::vector<std::size_t> splits;
    if (spans) splits = identifier_splits(original);
    if (splits.empty()) return f->token(f->ctx, flags, token, n, start, end);
    // The parts take a position each. A query asks for the parts only, so that "parseConfig"
    // also finds parse_config; a document holds the whole word too, at its first part's
    // position, so that "parseconfig" still finds it and phrases see the same positions.
    splits.push_back(static_cast<std::size_t>(end - start));
    std::size_t from = 0;
    for (const std::size_t to : splits) {
        f->part.assign(f->text + start + from, to - from);
        for (char& c : f->part) {
            if (upper(c)) c = static_cast<char>(c - 'A' + 'a');
        }
        int rc = emit(f, f->part, start + static_cast<int>(from), start + static_cast<int>(to));
        if (rc == SQLITE_OK && from == 0 && !f->query) {
            rc = f->token(f->ctx, FTS5_TOKEN_COLOCATED, token, n, start, end);
        }
        if (rc != SQLITE_OK) return rc;
        from = to;
    }
    return SQLITE_OK;
}

int create(void* user, const char** args, int n_args, Fts5Tokenizer** out) {
    auto* api = static_cast<fts5_api*>(user);
    if (n_args < 1) return SQLITE_ERROR;
    auto t = std::make_unique<Layer>();
    void* inner_user = nullptr;
    int rc = api->xFindTokenizer(api, args[0], &inner_user, &t->inner_api);
    if (rc != SQLITE_OK) return rc;
    rc = t->inner_api.xCreate(inner_user, args + 1, n_args - 1, &t->inner);
    if (rc != SQLITE_OK) return rc;
    *out = reinterpret_cast<Fts5Tokenizer*>(t.release());
    return SQLITE_OK;
}

void destroy(Fts5Tokenizer* t) {
    delete reinterpret_cast<Layer*>(t);
}

int tokenize(Fts5Tokenizer* t, void* ctx, int flags, const char* text, int n, TokenCallback token) {
    auto* s = reinterpret_cast<Layer*>(t);
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

bool unspaced_script(char32_t c) {
    return (c >= 0x3040 && c <= 0x30FF) ||  // Hiragana, Katakana
           (c >= 0x31F0 && c <= 0x31FF) ||  // Katakana extensions
           (c >= 0x3400 && c <= 0x4DBF) ||  // CJK extension A
           (c >= 0x4E00 && c <= 0x9FFF) ||  // CJK unified ideographs
           (c >= 0xF900 && c <= 0xFAFF) ||  // CJK compatibility ideographs
           (c >= 0xFF66 && c <= 0xFF9F) ||  // halfwidth Katakana
           (c >= 0x1100 && c <= 0x11FF) ||  // Hangul Jamo
           (c >= 0x3130 && c <= 0x318F) ||  // Hangul compatibility Jamo
           (c >= 0xAC00 && c <= 0xD7AF) ||  // Hangul syllables
           (c >= 0x20000 && c <= 0x3134F);  // CJK extensions B to G
}

std::string nfkc_casefold(std::string_view s) {
    bool ascii = true;
    for (const char c : s) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
    if (ascii) {
        std::string out(s);
        for (char& c : out) {
            if (upper(c)) c = static_cast<char>(c - 'A' + 'a');
        }
        return out;
    }
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* nfkc_cf = icu::Normalizer2::getNFKCCasefoldInstance(status);
    if (U_FAILURE(status) || nfkc_cf == nullptr) return std::string(s);
    const icu::UnicodeString folded = nfkc_cf->normalize(
        icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size()))),
        status);
    if (U_FAILURE(status)) return std::string(s);
    std::string out;
    folded.toUTF8String(out);
    return out;
}

int register_words(sqlite3* db) {
    fts5_api* api = fts5_api_of(db);
    if (api == nullptr) return SQLITE_ERROR;
    fts5_tokenizer methods{create, destroy, tokenize};
    return api->xCreateTokenizer(api, "rk_words", api, &methods, nullptr);
}

}  // namespace rk::text
