#include "store/documents.hpp"

#include <chrono>

#include "rk/error.hpp"
#include "util/hash.hpp"
#include "vector/embedding.hpp"

namespace rk::store {

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string content_hash(const DocumentRecord& doc) {
    util::Hash128 h;
    for (const std::string_view field : {doc.collection, doc.title, doc.meta, doc.body}) {
        h.update_field(field);
    }
    return h.hex();
}

std::unordered_map<std::string, KnownDocument> load_known(Database& db) {
    std::unordered_map<std::string, KnownDocument> known;
    auto st = db.prepare("SELECT ext_id, id, hash, source FROM documents");
    while (st.step()) {
        known.emplace(st.str(0), KnownDocument{st.int64(1), st.str(2), st.str(3)});
    }
    return known;
}

DocumentWriter::DocumentWriter(Database& db, text::Tokenizer& tokenizer,
                               const vector::Layout& vectors)
    : db_(db),
      postings_(db, tokenizer),
      insert_doc_(db,
                  "INSERT INTO documents(ext_id, source, collection, title, meta, hash, "
                  "body, bytes, updated) VALUES(?,?,?,?,?,?,?,?,?)"),
      update_doc_(db,
                  "UPDATE documents SET ext_id=?, source=?, collection=?, title=?, meta=?, "
                  "hash=?, body=?, bytes=?, updated=? WHERE id=?"),
      delete_doc_(db, "DELETE FROM documents WHERE id=?"),
      insert_chunk_(db,
                    "INSERT INTO chunks(doc, seq, heading, start, end, tokens, lex_len) "
                    "VALUES(?,?,?,?,?,?,?)"),
      insert_fts_(db, "INSERT INTO chunks_fts(rowid, title, heading, body) VALUES(?,?,?,?)"),
      // External-content FTS5 deletes by the values it indexed, read back through the view
      // before the chunk rows go.
      delete_fts_(db,
                  "INSERT INTO chunks_fts(chunks_fts, rowid, title, heading, body) "
                  "SELECT 'delete', id, title, heading, body FROM chunk_view "
                  "WHERE id IN (SELECT id FROM chunks WHERE doc=?)"),
      delete_chunks_(db, "DELETE FROM chunks WHERE doc=?") {
    if (vectors.stored_size > 0) vectors_.emplace(db, vectors.counts_grams);
}

namespace {

void bind_document(Statement& st, const DocumentRecord& doc) {
    st.bind(1, doc.ext_id)
        .bind(2, doc.source)
        .bind(3, doc.collection)
        .bind(4, doc.title)
        .bind(5, doc.meta)
        .bind(6, doc.hash)
        .bind(7, doc.body)
        .bind(8, static_cast<std::int64_t>(doc.body.size()))
        .bind(9, doc.updated != 0 ? doc.updated : unix_now());
}

}  // namespace

std::int64_t DocumentWriter::insert(DocumentRecord& doc) {
    bind_document(insert_doc_, doc);
    insert_doc_.run();
    const std::int64_t rowid = db_.last_insert_rowid();
    insert_chunks(rowid, doc);
    return rowid;
}

void DocumentWriter::replace(std::int64_t rowid, DocumentRecord& doc) {
    remove_chunks(rowid);
    bind_document(update_doc_, doc);
    update_doc_.bind(10, rowid).run();
    insert_chunks(rowid, doc);
}

void DocumentWriter::remove(std::int64_t rowid) {
    remove_chunks(rowid);
    delete_doc_.bind(1, rowid).run();
}

void DocumentWriter::finish() {
    postings_.finish();
    if (vectors_) vectors_->finish();
}

void DocumentWriter::insert_chunks(std::int64_t rowid, DocumentRecord& doc) {
    std::int64_t seq = 0;
    for (auto& c : doc.chunks) {
        insert_chunk_.bind(1, rowid)
            .bind(2, seq++)
            .bind(3, c.heading)
            .bind(4, c.start)
            .bind(5, c.end)
            .bind(6, c.tokens)
            .bind(7, std::int64_t{c.terms.length})
            .run();
        const std::int64_t chunk = db_.last_insert_rowid();
        postings_.add(chunk, std::move(c.terms));
        if (vectors_) {
            if (c.vector.encoded.empty()) {
                throw Error("a chunk came to be stored without its vector");
            }
            vectors_->add(chunk, c.vector);
        }
        insert_fts_.bind(1, chunk).bind(2, doc.title).bind(3, c.heading).bind(4, c.text).run();
    }
}

void DocumentWriter::remove_chunks(std::int64_t rowid) {
    postings_.remove_document(rowid);
    if (vectors_) vectors_->remove_document(rowid);
    delete_fts_.bind(1, rowid).run();
    delete_chunks_.bind(1, rowid).run();
}

}  // namespace rk::store
