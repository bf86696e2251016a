// The workers' part of rk::ingest(): each work item read, its text made UTF-8, parsed, hashed
// and, unless unchanged since the last ingest, cut into chunks whose terms are counted and
// which are embedded; for rk import, an export's lines read back. Each worker thread has its
// own Preparer, with its own tokenizer; what the workers share (the options, the settings, the
// embedder, what the index held) they only read.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ingest/readers.hpp"
#include "ingest/records.hpp"
#include "ingest/work.hpp"
#include "lexical/postings.hpp"
#include "rk/index.hpp"
#include "rk/ingest.hpp"
#include "text/tokenizer.hpp"
#include "transfer/format.hpp"
#include "vector/embedding.hpp"

namespace rk::pipeline {

// Cuts a document into chunks and, unless in a dry run, counts their terms and embeds them.
// One per thread: each worker's, and the writer's for a document that must be written after
// all (see Prepared).
class Cutter {
  public:
    Cutter(const IngestOptions& o, const Settings& s, text::Tokenizer& tokenizer,
           const vector::Embedding* embedding)
        : o_(o), s_(s), embedding_(embedding), counter_(tokenizer) {}

    // `segments`: a reader's, or null for a record (which carries no structure of its own, so
    // its text is cut at paragraphs).
    void cut(Prepared& p, const std::vector<inputs::Segment>* segments);
    // For chunks that came with the document (an import keeping an export's): counts their
    // terms and gives each its vector, the one it came with (in `vector.encoded`) or, if none,
    // one embedded here. Returns the number of vectors kept.
    std::int64_t complete(Prepared& p);
    // Whether cut() and complete() embed chunks (the index has vectors; not a dry run).
    [[nodiscard]] bool embeds() const { return embedding_ != nullptr && !o_.dry_run; }
    // An embedding that takes a round's chunks at once (a model's, a service's) leaves cut()'s
    // and complete()'s chunks without a vector; this gives every such chunk of `docs` one, in
    // as few embedding calls as it can. Throws ServiceError when a service fails.
    void embed_rest(std::span<Prepared* const> docs) const;

  private:
    void embed_one(store::ChunkRecord& c, std::string_view text) const;

    const IngestOptions& o_;
    const Settings& s_;
    const vector::Embedding* embedding_;  // null for an index without vectors
    lexical::TermCounter counter_;
};

// Parses, hashes and (unless unchanged since the last ingest) chunks. One per worker thread.
class Preparer {
  public:
    // `import`: the export being imported, when this is rk import.
    Preparer(const IngestOptions& o, const Settings& s, const Known& known,
             text::Tokenizer tokenizer, const vector::Embedding* embedding,
             const ImportInput* import = nullptr)
        : o_(o),
          known_(known),
          import_(import),
          tokenizer_(std::make_unique<text::Tokenizer>(std::move(tokenizer))),
          cutter_(o, s, *tokenizer_, embedding),
          fields_{o.id_field, o.title_field, o.text_field} {}

    void run(WorkItem& item, WorkResult& r);

  private:
    static void note(WorkResult& r, IngestNote::Level level, std::string where, std::string what);
    static void repair(std::string& s, const std::string& where, WorkResult& r);
    void file(WorkItem& item, WorkResult& r);
    bool to_utf8(std::string& data, const std::string& where, WorkResult& r) const;
    static bool mostly_not_utf8(std::string_view s);
    void text_document(WorkItem& item, std::string body, WorkResult& r);
    void json_file(WorkItem& item, std::string& data, WorkResult& r);
    void lines(WorkItem& item, WorkResult& r);
    void record(inputs::Record&& rec, const WorkItem& item, std::string where, WorkResult& r);
    void finish(Prepared& p, inputs::Parsed* parsed, WorkResult& r);
    void exported(WorkItem& item, WorkResult& r);
    void imported(transfer::Line&& line, std::string where, WorkResult& r);

    const IngestOptions& o_;
    const Known& known_;
    const ImportInput* import_;
    std::unique_ptr<text::Tokenizer> tokenizer_;  // stays put when the Preparer moves
    Cutter cutter_;
    inputs::RecordFields fields_;
    inputs::RecordParser parser_;
    transfer::LineParser export_parser_;
};

}  // namespace rk::pipeline
