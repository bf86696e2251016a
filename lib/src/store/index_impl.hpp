// What an open Index holds. Internal: the rest of the library reaches the database here.
#pragma once

#include <memory>
#include <optional>

#include "rk/index.hpp"
#include "store/lock.hpp"
#include "store/sqlite.hpp"
#include "text/tokenizer.hpp"

namespace rk {

struct Index::Impl {
    std::filesystem::path dir;
    Settings settings;
    Mode mode = Mode::read;
    std::optional<store::WriterLock> lock;  // held for a writer's lifetime, taken first
    std::unique_ptr<store::Database> db;

    // The index's tokenizer, made on first use, for work on the thread using this Index.
    text::Tokenizer& query_tokenizer() const;

  private:
    mutable std::unique_ptr<text::Tokenizer> tokenizer_;
};

}  // namespace rk
