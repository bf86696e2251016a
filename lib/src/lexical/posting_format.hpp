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
#include <bit>
#include <cstdint>
#include <cstring>
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

// A block, as its page describes it.
struct BlockRef {
    std::int64_t first = 0, last = 0;
    std::uint32_t offset = 0, bytes = 0;  // where its entries are in the page
};

inline constexpr unsigned kMaxGapWidth = 62, kMaxCountWidth = 32;
inline constexpr std::size_t kMaxBlockBits =
    (kBlockSize - 1) * kMaxGapWidth + kBlockSize * kMaxCountWidth * (kFields + 1);

// A block's entries: their chunk ids decoded, their counts and lengths read from the bits
// when asked for (most entries a query decodes, it only tests for a chunk id).
class Block {
  public:
    [[nodiscard]] std::size_t size() const { return size_; }
    [[nodiscard]] unsigned fields() const { return fields_; }  // where some entry holds the term
    [[nodiscard]] std::int64_t chunk(std::size_t i) const { return chunk_[i]; }
    [[nodiscard]] const std::int64_t* chunks() const { return chunk_.data(); }
    // Entry i's count in field f (0 where it lacks the field) and length in tokens.
    [[nodiscard]] std::uint32_t tf(std::size_t f, std::size_t i) const {
        return column(tf_at_[f] + i * tf_width_[f], tf_width_[f]);
    }
    [[nodiscard]] std::uint32_t length(std::size_t i) const {
        return min_length_ + column(length_at_ + i * length_width_, length_width_);
    }
    // Keeps the entries `keep` says yes to, in order.
    template <typename Keep>
    void keep_if(Keep keep) {
        std::size_t kept = 0;
        for (std::size_t i = 0; i < size_; ++i) {
            if (!keep(chunk_[i])) continue;
            for (std::size_t f = 0; f < kFields; ++f) {
                set_column(tf_at_[f] + kept * tf_width_[f], tf_width_[f], tf(f, i));
            }
            set_column(length_at_ + kept * length_width_, length_width_,
                       column(length_at_ + i * length_width_, length_width_));
            chunk_[kept++] = chunk_[i];
        }
        size_ = kept;
    }

  private:
    friend void decode_block(std::string_view page, const BlockRef& block, Block& out);

    [[nodiscard]] std::uint32_t column(std::size_t at, unsigned width) const {
        std::uint64_t word = 0;
        std::memcpy(&word, bits_.data() + (at >> 3), sizeof word);
        if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
        return static_cast<std::uint32_t>((word >> (at & 7)) & ((std::uint64_t{1} << width) - 1));
    }
    void set_column(std::size_t at, unsigned width, std::uint32_t v) {
        for (unsigned b = 0; b < width; ++b, ++at) {
            const auto bit = static_cast<unsigned char>(1U << (at & 7));
            if (((v >> b) & 1U) != 0) {
                bits_[at >> 3] |= bit;
            } else {
                bits_[at >> 3] &= static_cast<unsigned char>(~bit);
            }
        }
    }

    std::size_t size_ = 0;
    unsigned fields_ = 0;
    // The arrays are left uninitialised (4 KiB a block): a cursor holds a block, a query makes
    // hundreds of cursors, and most never decode one. decode_block writes what is read.
    std::array<std::int64_t, kBlockSize> chunk_;
    std::array<std::size_t, kFields> tf_at_{};
    std::array<unsigned, kFields> tf_width_{};  // 0 for a field no entry holds the term in
    std::size_t length_at_ = 0;
    unsigned length_width_ = 0;
    std::uint32_t min_length_ = 0;
    // The block's bits, and 8 bytes to spare for reading a column's last value a word at a time.
    std::array<unsigned char, kMaxBlockBits / 8 + 16> bits_;
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
// Decodes a block's chunk ids into `out` and keeps its bits for the rest.
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
