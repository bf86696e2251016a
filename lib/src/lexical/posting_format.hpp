// How a term's postings in one segment are stored: in blocks of kBlockSize entries, sorted by
// chunk id, each described in the term's head row (lex_postings) by its last chunk id, its
// size in bytes and what bounds a BM25 score in it, its impacts: the entries no other entry of
// the block beats on every field's count and on length (a Pareto frontier, as Lucene keeps
// per block), so that the best score in the block is the best of theirs, whatever the query's
// weights. A query reads the head row, and the pages of kBlocksPerPage blocks (lex_blocks)
// that hold blocks it cannot skip; a list of one block keeps it inline in the head row.
//
// An entry is the gap from the previous chunk id (from the previous block's last, for a
// block's first entry) with a mask of the fields that hold the term, the term's count in each
// of those fields, and the chunk's length in tokens, all as varints: about 5 bytes.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/sqlite.hpp"

namespace rk::lexical {

inline constexpr std::size_t kFields = 3;  // title, heading path, body: FTS5's column order
inline constexpr std::size_t kBlockSize = 128;
inline constexpr std::size_t kBlocksPerPage = 16;

struct Posting {
    std::int64_t chunk = 0;
    std::array<std::uint32_t, kFields> tf{};
    std::uint32_t length = 0;
};

// A term count and chunk length that bound the score of a block's entries.
struct Impact {
    std::array<std::uint32_t, kFields> tf{};
    std::uint32_t length = 0;
};

struct BlockInfo {
    std::int64_t last = 0;          // its last chunk id
    std::uint32_t bytes = 0;        // its encoded size
    std::uint32_t offset = 0;       // where it starts in its page
    std::uint32_t impacts_end = 0;  // its impacts end here in TermList::impacts (and start
                                    // where the previous block's end)
};

// A term's postings in one segment, as the head row describes them.
struct TermList {
    std::vector<BlockInfo> blocks;
    std::vector<Impact> impacts;
    std::string inline_block;  // the payload of a list of one block
};

// The entries of `postings` that none of the others matches or beats on every count and on
// length, each once.
std::vector<Impact> impacts_of(const Posting* postings, std::size_t n);

// One list, encoded: its head row, and its pages when it has more than one block.
struct EncodedList {
    std::string head;
    std::vector<std::string> pages;
};

// Encodes postings sorted by chunk id; throws IndexError when they are not.
EncodedList encode_list(const std::vector<Posting>& postings);
// Throws IndexError on malformed bytes.
TermList decode_head(std::string_view head);
// Appends a block's entries to `out`; `base` is the previous block's last chunk id (0 for the
// first). Throws IndexError on malformed bytes, or when the block does not end at `last`.
void decode_block(std::string_view payload, std::int64_t base, std::int64_t last,
                  std::vector<Posting>& out);

// The tables, created by schema.cpp.
constexpr const char* kPostingTables = R"sql(
CREATE TABLE IF NOT EXISTS lex_segments(seg INTEGER PRIMARY KEY, level INTEGER NOT NULL,
                          entries INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS lex_postings(seg INTEGER NOT NULL, term TEXT NOT NULL, df INTEGER NOT NULL,
                          data BLOB NOT NULL, PRIMARY KEY(seg, term)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS lex_blocks(seg INTEGER NOT NULL, term TEXT NOT NULL, page INTEGER NOT NULL,
                        data BLOB NOT NULL, PRIMARY KEY(seg, term, page)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS lex_dead(chunk INTEGER PRIMARY KEY, seg INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS lex_dead_df(term TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS lex_stats(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
)sql";

// Writes a list's rows.
void write_list(store::Database& db, std::int64_t seg, std::string_view term,
                const std::vector<Posting>& postings);
// Reads a whole list (dead entries included) into `out`, cleared first; false if the segment
// holds no such term. Throws IndexError naming the term and segment on malformed rows.
bool read_list(store::Database& db, std::int64_t seg, std::string_view term,
               std::vector<Posting>& out);
// The page a reader of one list holds, so that the blocks of a page are read with one lookup.
struct PageCache {
    std::int64_t page = -1;
    std::string bytes;
};

// Reads block `b` of a list into `out` (cleared first), as read_list does.
void read_block(store::Database& db, std::int64_t seg, std::string_view term, const TermList& list,
                std::size_t b, std::vector<Posting>& out, PageCache& cache);

}  // namespace rk::lexical
