// The index's own FTS5 tokenizer, callable from C++: lexical search counts terms with exactly
// the tokens FTS5 indexes, so BM25 statistics and FTS5 matches never disagree.
#pragma once

#include <sqlite3.h>

#include <string>
#include <string_view>

namespace rk::text {

class Tokenizer {
  public:
    enum class Purpose { document, query };

    // `spec` is an FTS5 tokenize argument ("porter unicode61 remove_diacritics 2"), looked up
    // among the tokenizers registered on `db`, which must stay open while this is used. An
    // instance may be handed to another thread; it serves one thread at a time.
    Tokenizer(sqlite3* db, const std::string& spec);
    Tokenizer(Tokenizer&& other) noexcept;
    Tokenizer& operator=(Tokenizer&&) = delete;
    Tokenizer(const Tokenizer&) = delete;
    Tokenizer& operator=(const Tokenizer&) = delete;
    ~Tokenizer();

    // Calls on_token(std::string_view) for each token of `text`, in order.
    template <typename F>
    void tokenize(std::string_view text, Purpose purpose, F&& on_token) {
        run(text, purpose, &on_token, [](void* f, std::string_view token) {
            (*static_cast<std::remove_reference_t<F>*>(f))(token);
        });
    }

  private:
    using Sink = void (*)(void*, std::string_view);
    void run(std::string_view text, Purpose purpose, void* sink_ctx, Sink sink);

    fts5_tokenizer api_{};
    Fts5Tokenizer* instance_ = nullptr;
};

}  // namespace rk::text
