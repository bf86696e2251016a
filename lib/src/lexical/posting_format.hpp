// How a term's postings in one segment are stored. Entries, sorted by chunk id, are cut into
// blocks of kBlockSize, and blocks into pages of kBlocksPerPage. The term's head row
// (lex_postings) describes each page: its first and last chunk ids, its size, and its
// impacts: the entries no other entry of the page beats on every field's count and on length
// (a Pareto frontier, as Lucene keeps per block), so that the best score in the page is the
// best of theirs, whatever the query's weights. A page (a lex_blocks row; a list of one
// block keeps its page inline in the head row) starts with its blocks' first and last chunk
// ids and sizes, then their entries. A query reads the head, then only the pages and blocks
// that hold chunks it must score: a chunk id between two blocks is known to be absent
// without decoding either.
//
// A block is stored column by column, each column's values bit-packed at one width, so that a
// query decodes it with shifts and masks rather than a branch per byte: a byte of its entry
// count less one, a byte of the mask of fields some entry holds the term in, the width of the
// gaps between chunk ids (each less one; the first entry is the block's first id), the width
// of each present field's counts, the width of the lengths, the least length (a varint), then
// the bits: the gaps, each present field's counts (0 where an entry lacks the field) and each
// chunk's length in tokens less the least, low bits first. Widths are bits, at most 62 for
// gaps and 32 for the rest.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "rk/error.hpp"
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

// A term count and chunk length that bound the score of some entries.
struct Impact {
    std::array<std::uint32_t, kFields> tf{};
    std::uint32_t length = 0;
};

struct PageInfo {
    std::int64_t first = 0, last = 0;  // its first and last chunk ids
    std::uint32_t bytes = 0;           // its encoded size
    std::uint32_t impacts_end = 0;     // its impacts end here in TermList::impacts (and start
                                       // where the previous page's end)
};

// A term's postings in one segment, as the head row describes them.
struct TermList {
    std::vector<PageInfo> pages;
    std::vector<Impact> impacts;
    std::string inline_page;  // the page of a list of one block
};

// A block's entries, decoded: column i of each array is entry i.
struct Block {
    std::size_t size = 0;
    unsigned fields = 0;  // the mask of fields some entry holds the term in
    std::array<std::int64_t, kBlockSize> chunk{};
    std::array<std::array<std::uint32_t, kBlockSize>, kFields> tf{};  // 0 for absent fields
    std::array<std::uint32_t, kBlockSize> length{};
};

// A block, as its page describes it.
struct BlockRef {
    std::int64_t first = 0, last = 0;
    std::uint32_t offset = 0, bytes = 0;  // where its entries are in the page
};

// One list, encoded: its head row, and its pages when it has more than one block.
struct EncodedList {
    std::string head;
    std::vector<std::string> pages;
};

// The entries of `postings` that none of the others matches or beats on every count and on
// length, each once.
std::vector<Impact> impacts_of(const Posting* postings, std::size_t n);

// Encodes postings sorted by chunk id; throws IndexError when they are not.
EncodedList encode_list(const std::vector<Posting>& postings);
// The rest throw IndexError on malformed bytes.
TermList decode_head(std::string_view head);
// A page's blocks, checked against its description in the head.
void decode_page(std::string_view page, const PageInfo& info, std::vector<BlockRef>& blocks);
// Decodes a block's entries into `out`.
void decode_block(std::string_view page, const BlockRef& block, Block& out);
// Appends a block's entries to `out`.
void decode_block(std::string_view page, const BlockRef& block, std::vector<Posting>& out);

// The tables, created by schema.cpp.
constexpr const char* kPostingTables = R"sql(
CREATE TABLE IF NOT EXISTS lex_segments(seg INTEGER PRIMARY KEY, level INTEGER NOT NULL,
                                        entries INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS lex_postings(seg INTEGER NOT NULL, term TEXT NOT NULL,
                                        df INTEGER NOT NULL, data BLOB NOT NULL,
                                        PRIMARY KEY(seg, term)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS lex_blocks(seg INTEGER NOT NULL, term TEXT NOT NULL,
                                      page INTEGER NOT NULL, data BLOB NOT NULL,
                                      PRIMARY KEY(seg, term, page)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS lex_dead(chunk INTEGER PRIMARY KEY, seg INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS lex_dead_df(term TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS lex_stats(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
)sql";

// `e`, found in the list of `term` in segment `seg`, as the error that names them.
IndexError list_error(const store::Database& db, std::int64_t seg, std::string_view term,
                      const IndexError& e);

// Writes a list's rows.
void write_list(store::Database& db, std::int64_t seg, std::string_view term,
                const std::vector<Posting>& postings);
// Reads a whole list (dead entries included) into `out`, cleared first; false if the segment
// holds no such term. Throws IndexError naming the term and segment on malformed rows.
bool read_list(store::Database& db, std::int64_t seg, std::string_view term,
               std::vector<Posting>& out);
// Reads page `p` of a list (its bytes, and its blocks), as read_list does.
void read_page(store::Database& db, std::int64_t seg, std::string_view term, const TermList& list,
               std::size_t p, std::string& bytes, std::vector<BlockRef>& blocks);

}  // namespace rk::lexical
