// What an open Index holds. Internal: the rest of the library reaches the database here.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "embed/builtin.hpp"
#include "rk/index.hpp"
#include "store/lock.hpp"
#include "store/sqlite.hpp"
#include "text/tokenizer.hpp"
#include "vector/graph.hpp"

namespace rk {

struct Index::Impl {
    std::filesystem::path dir;
    Settings settings;
    Mode mode = Mode::read;
    std::optional<store::WriterLock> lock;  // held for a writer's lifetime, taken first
    std::unique_ptr<store::Database> db;
    std::function<void(const std::string&)> note;  // messages for the user (stderr in rk)

    // The index's tokenizer, made on first use, for work on the thread using this Index.
    text::Tokenizer& query_tokenizer() const;
    const embed::BuiltinEmbedder& embedder() const;

    // The vector graph as of rk.db's current vectors: vectors.hnsw loaded, caught up if it is
    // behind, rebuilt if it is missing or damaged (with a note), and saved when this process
    // may write. `rebuild` builds it afresh whatever the file holds.
    const vector::Graph& graph(bool rebuild = false) const;

  private:
    mutable std::unique_ptr<text::Tokenizer> tokenizer_;
    mutable std::unique_ptr<embed::BuiltinEmbedder> embedder_;
    mutable std::unique_ptr<vector::Graph> graph_;
};

}  // namespace rk
