// The writer's part of rk::ingest(): on the calling thread, each round's documents written in
// input order, each counted as added, updated or unchanged, in transactions that span rounds;
// then what --prune covers removed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "embed/builtin.hpp"
#include "ingest/preparer.hpp"
#include "ingest/work.hpp"
#include "rk/index.hpp"
#include "rk/ingest.hpp"
#include "store/documents.hpp"
#include "store/sqlite.hpp"
#include "text/tokenizer.hpp"
#include "vector/builder.hpp"

namespace rk::pipeline {

// Decides each document's fate against what the index held and what this run wrote.
//
// When one run meets an id again, the later record replaces the earlier one. The report
// counts each document once, by what the whole run did to it: added when the index did not
// hold it before the run, else updated or unchanged by whether the record that ends up
// stored differs from the one stored before; `chunks` counts the chunks of the added and
// updated documents as they end up. So a rerun over the same input, duplicates and all,
// reports every document unchanged.
class Writer {
  public:
    // `vectors`: the index's stored vectors' layout; `embedding`: null without vectors or in a
    // dry run.
    Writer(store::Database& db, text::Tokenizer& tokenizer, const Settings& settings,
           const vector::Layout& vectors, const vector::Embedding* embedding,
           const IngestOptions& o, const Known& known, const IngestCallbacks& cb,
           IngestReport& report, vector::GraphBuilder* graph);

    // Writes one round, committing when the open transaction has grown enough.
    void write(std::vector<WorkResult>& results);

    void commit();

    void mark_failed_source(const std::string& s) { failed_sources_.insert(s); }

    // An import's records must all be right and end with the export's last line, which counts
    // them: the writing stops at the first that is not (see WorkResult), and says why here.
    [[nodiscard]] const std::optional<IngestNote>& stopped() const { return stop_; }
    // Whether the export's last line has come.
    [[nodiscard]] bool ended() const { return end_.has_value(); }

    // Removes what --prune covers, counting each document removed in the report's `pruned`.
    void prune(const std::vector<std::filesystem::path>& roots);

  private:
    enum class Action { none, add, update, unchanged };

    // An id this run has met.
    struct RunDocument {
        std::string where;                  // where its last record was read
        std::int64_t rowid = 0;             // its row, when it has one
        std::optional<std::string> stored;  // the hash of what its row holds (or would, dry)
        Action counted = Action::none;      // how the report counts it
        std::int64_t chunks = 0;            // its part of the report's chunks
    };

    void write_one(Prepared& p, bool superseded, store::DocumentWriter* writer);
    void embed_round(std::vector<WorkResult>& results, std::size_t until,
                     const std::unordered_map<std::string_view, const Prepared*>& last);
    void reuse_vectors(std::int64_t rowid, Prepared& p);
    void tally(Action a, std::int64_t chunks, std::int64_t n);
    static std::string_view name(Action a);

    store::Database& db_;
    vector::GraphBuilder* graph_;  // told of each commit, when the index has vectors
    text::Tokenizer& tokenizer_;   // the writing thread's own
    const vector::Layout& vectors_;
    const vector::Embedding* embedding_;  // null without vectors, or in a dry run
    const IngestOptions& o_;
    const Known& known_;
    const IngestCallbacks& cb_;
    IngestReport& report_;
    std::unordered_map<std::string, RunDocument> run_;
    std::unordered_set<std::string> seen_sources_, failed_sources_;
    std::optional<store::Transaction> tx_;
    std::optional<store::DocumentWriter> writer_;
    std::size_t uncommitted_ = 0;
    std::size_t commit_bytes_;
    std::int64_t records_ = 0;  // an import's document records so far
    std::optional<WorkResult::End> end_;
    std::optional<IngestNote> stop_;
    Cutter cutter_;  // the writing thread's own
};

}  // namespace rk::pipeline
