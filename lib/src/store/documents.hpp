// Writing and deleting documents with their chunks and full-text rows, always together.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "lexical/postings.hpp"
#include "rk/index.hpp"
#include "store/sqlite.hpp"
#include "vector/store.hpp"

namespace rk::store {

struct ChunkRecord {
    std::string heading;
    std::int64_t start = 0, end = 0, tokens = 0;
    std::string text;
    lexical::ChunkTerms terms;   // counted by the ingest workers
    vector::ChunkVector vector;  // embedded by the ingest workers
};

struct DocumentRecord {
    std::string ext_id, source, collection, title, meta, hash, body;
    std::vector<ChunkRecord> chunks;
    std::int64_t updated = 0;  // unix seconds to store; 0 means now (an import keeps its own)
};

// The content hash incremental ingest compares: XXH3-128 (hex) of the collection, title,
// metadata and text.
std::string content_hash(const DocumentRecord& doc);

struct KnownDocument {
    std::int64_t rowid = 0;
    std::string hash;
    std::string source;
};

// Every stored document's id -> (rowid, hash, source): what incremental ingest compares with.
std::unordered_map<std::string, KnownDocument> load_known(Database& db);

// Prepared statements for the write path. Call inside a Transaction, and finish() before
// committing it.
class DocumentWriter {
  public:
    // `tokenizer`: the index's, to count the terms of removed chunks again. `vectors`: the
    // index's; unless it is empty (embedder "none"), every chunk must bring a vector.
    DocumentWriter(Database& db, text::Tokenizer& tokenizer, const vector::Layout& vectors);
    // Both take the chunks' term counts out of `doc`.
    std::int64_t insert(DocumentRecord& doc);
    // Replaces the document's fields and all its chunks, keeping its rowid.
    void replace(std::int64_t rowid, DocumentRecord& doc);
    void remove(std::int64_t rowid);
    // Writes the postings and vector statistics of what was added and removed.
    void finish();

  private:
    void insert_chunks(std::int64_t rowid, DocumentRecord& doc);
    void remove_chunks(std::int64_t rowid);

    Database& db_;
    lexical::PostingWriter postings_;
    std::optional<vector::VectorWriter> vectors_;
    Statement insert_doc_, update_doc_, delete_doc_, insert_chunk_, insert_fts_, delete_fts_,
        delete_chunks_;
};

std::int64_t unix_now();

}  // namespace rk::store
