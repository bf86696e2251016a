// Writing and deleting documents with their chunks and full-text rows, always together.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/sqlite.hpp"

namespace rk::store {

struct ChunkRecord {
    std::string heading;
    std::int64_t start = 0, end = 0, tokens = 0;
    std::string text;
};

struct DocumentRecord {
    std::string ext_id, source, collection, title, meta, hash, body;
    std::vector<ChunkRecord> chunks;
};

struct KnownDocument {
    std::int64_t rowid = 0;
    std::string hash;
    std::string source;
};

// Every stored document's id -> (rowid, hash, source): what incremental ingest compares with.
std::unordered_map<std::string, KnownDocument> load_known(Database& db);

// Prepared statements for the write path. Call inside a Transaction.
class DocumentWriter {
  public:
    explicit DocumentWriter(Database& db);
    std::int64_t insert(const DocumentRecord& doc);
    // Replaces the document's fields and all its chunks, keeping its rowid.
    void replace(std::int64_t rowid, const DocumentRecord& doc);
    void remove(std::int64_t rowid);

  private:
    void insert_chunks(std::int64_t rowid, const DocumentRecord& doc);
    void remove_chunks(std::int64_t rowid);

    Database& db_;
    Statement insert_doc_, update_doc_, delete_doc_, insert_chunk_, insert_fts_, delete_fts_,
        delete_chunks_;
};

std::int64_t unix_now();

}  // namespace rk::store
