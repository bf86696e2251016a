// rk's own inverted index for BM25: term -> the chunks holding it, with per-field term counts
// and each chunk's length, so that ranking reads only the query terms' postings, block by
// block (see posting_format.hpp).
//
// Postings live in rk.db next to FTS5 (which still answers phrases, prefixes and snippets),
// in immutable segments: each write transaction adds one, small segments are merged into
// bigger ones (tiered, a few per level), and deleted chunks are recorded in lex_dead until a
// merge drops their entries. Segment ids grow with time; lex_dead(chunk, seg) means "this
// chunk's entries in segments older than seg are dead", which stays true when SQLite reuses
// the rowid of a deleted chunk for a new one. lex_dead_df counts, per term, the dead entries
// still in segments, so that a term's document frequency is exact without reading its lists.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lexical/posting_format.hpp"
#include "store/sqlite.hpp"
#include "text/tokenizer.hpp"

namespace rk::lexical {

struct TermCount {
    std::string term;
    std::array<std::uint32_t, kFields> tf{};
};

// What one chunk contributes: its distinct terms and its length in tokens over all fields.
struct ChunkTerms {
    std::vector<TermCount> terms;
    std::uint32_t length = 0;
};

// Counts terms chunk after chunk, reusing its hash table. One per thread.
class TermCounter {
  public:
    explicit TermCounter(text::Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
    ChunkTerms count(std::string_view title, std::string_view heading, std::string_view body);

  private:
    void grow(const ChunkTerms& out);

    text::Tokenizer& tokenizer_;
    std::vector<std::uint32_t> slots_;  // open addressing: 1 + index into terms, 0 if free
};

// Collection statistics BM25 needs: live chunks and their summed lengths.
struct CorpusStats {
    std::int64_t chunks = 0;
    std::int64_t length = 0;
};

// The write side, for one transaction: new chunks go into one new segment, removed ones are
// marked dead (their terms counted again from their text, with `tokenizer`); finish() writes
// both and merges segments when a level fills up.
class PostingWriter {
  public:
    PostingWriter(store::Database& db, text::Tokenizer& tokenizer);
    void add(std::int64_t chunk, ChunkTerms terms);
    // Call before the document's chunk rows are deleted.
    void remove_document(std::int64_t doc);
    // Writes what add() and remove_document() collected; call before the commit.
    void finish();

  private:
    void write_segment();
    void merge_if_needed();

    store::Database& db_;
    TermCounter counter_;
    std::int64_t seg_ = 0;  // the id the pending segment gets
    // Chunks added in this transaction, in order; a removed one gets id 0.
    std::vector<std::pair<std::int64_t, ChunkTerms>> pending_;
    std::unordered_map<std::int64_t, std::size_t> pending_at_;
    CorpusStats delta_;
    std::unordered_map<std::string, std::int64_t> dead_df_;  // entries made dead, per term
    store::Statement doc_chunks_, mark_dead_;
};

// Replaces every segment by one built from the chunks' text. Call inside a transaction.
void rebuild_postings(store::Database& db, text::Tokenizer& tokenizer);

// Merges `segments` into a new one, leaving dead entries out.
void merge_segments(store::Database& db, const std::vector<std::int64_t>& segments);
// Merges every segment into one and drops dead entries (`rk index optimize`).
void optimize_postings(store::Database& db);

// Problems found comparing the postings with the chunks' text (empty when consistent).
std::vector<std::string> verify_postings(store::Database& db, text::Tokenizer& tokenizer);

CorpusStats read_corpus_stats(store::Database& db);
// chunk -> the segment before which its entries are dead.
std::unordered_map<std::int64_t, std::int64_t> load_dead(store::Database& db);
inline bool is_dead(const std::unordered_map<std::int64_t, std::int64_t>& dead, std::int64_t chunk,
                    std::int64_t seg) {
    if (dead.empty()) return false;
    const auto it = dead.find(chunk);
    return it != dead.end() && seg < it->second;
}

}  // namespace rk::lexical
