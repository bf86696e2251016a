#include "text/tokenizer.hpp"

#include <fmt/format.h>

#include <sstream>
#include <vector>

#include "rk/error.hpp"
#include "text/fts5_api.hpp"

namespace rk::text {

namespace {

struct Forward {
    void* ctx;
    void (*sink)(void*, std::string_view);
};

int forward(void* ctx, int /*flags*/, const char* token, int n, int /*start*/, int /*end*/) {
    // Colocated tokens (rk_words's whole camelCase words and single CJK characters, at the
    // position of a part or a pair) are terms of their own for BM25: a query may ask for them.
    const auto* f = static_cast<Forward*>(ctx);
    f->sink(f->ctx, std::string_view(token, static_cast<std::size_t>(n)));
    return SQLITE_OK;
}

}  // namespace

Tokenizer::Tokenizer(sqlite3* db, const std::string& spec) {
    std::vector<std::string> words;
    std::istringstream in(spec);
    for (std::string w; in >> w;) words.push_back(w);
    if (words.empty()) throw IndexError("empty tokenizer specification");
    fts5_api* api = fts5_api_of(db);
    if (api == nullptr) throw IndexError("this SQLite has no FTS5");
    void* user = nullptr;
    if (api->xFindTokenizer(api, words[0].c_str(), &user, &api_) != SQLITE_OK) {
        throw IndexError(fmt::format("no FTS5 tokenizer named '{}'", words[0]));
    }
    std::vector<const char*> args;
    for (std::size_t i = 1; i < words.size(); ++i) args.push_back(words[i].c_str());
    if (api_.xCreate(user, args.data(), static_cast<int>(args.size()), &instance_) != SQLITE_OK) {
        throw IndexError(fmt::format("cannot create the FTS5 tokenizer '{}'", spec));
    }
}

Tokenizer::Tokenizer(Tokenizer&& other) noexcept : api_(other.api_), instance_(other.instance_) {
    other.instance_ = nullptr;
}

Tokenizer::~Tokenizer() {
    if (instance_ != nullptr) api_.xDelete(instance_);
}

void Tokenizer::run(std::string_view text, Purpose purpose, void* sink_ctx, Sink sink) {
    if (text.empty()) return;
    Forward f{sink_ctx, sink};
    const int flags = purpose == Purpose::query ? FTS5_TOKENIZE_QUERY : FTS5_TOKENIZE_DOCUMENT;
    const int rc =
        api_.xTokenize(instance_, &f, flags, text.data(), static_cast<int>(text.size()), forward);
    if (rc != SQLITE_OK) throw IndexError(fmt::format("tokenizer failed: {}", sqlite3_errstr(rc)));
}

}  // namespace rk::text
