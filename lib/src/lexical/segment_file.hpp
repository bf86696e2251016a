// Posting files: each segment's rows (lex_postings, lex_blocks) copied byte for byte into a
// file of its own, postings/seg-N.rkp in the index directory, which queries map whole instead
// of reading the rows out of SQLite page by page (at a million documents that was half of a
// BM25 query's time: B-tree lookups, overflow pages, and copies of the pages past the 2 GiB
// Debian's SQLite maps).
//
// rk.db stays the source of truth: a file is derived from committed rows, written under a
// temporary name and renamed in, and used only when its header names the segment as the
// reader's snapshot has it (the index's posting tag, the segment id, its entry count). Segment
// ids are never reused under one tag, and `rk index rebuild` draws a new tag, so a file can
// never stand for rows it was not copied from. A reader that finds no file, or one that is
// not its segment's, reads the rows; one that finds damage (every head and page has an XXH3
// checksum, the term table one for all of it) says so, removes the file and reads the rows.
// An open file checks a head when it decodes it and a page the first time it is read (the
// file is never written in place); `rk index verify` checks every page every time.
// Writers copy new segments' rows after each commit and remove the files of merged ones.
//
// Layout (in the machine's byte order; segment_file_format.hpp), written front to back in one
// pass:
//   data:    per term, in term order: its head row, then its page rows in page order
//   table:   per term, a TermRecord (64 bytes), sorted by term (bytewise, as SQLite sorts)
//   sums:    per page row, its XXH3 (8 bytes), in data order
//   strings: the terms' bytes
//   trailer (80 bytes): what the file is (magic, format, tag, segment, entries), where the
//            sections start, the XXH3 of table, sums and strings, and its own.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "lexical/posting_format.hpp"
#include "store/sqlite.hpp"
#include "util/file_io.hpp"

namespace rk::lexical {

// What one posting file's decoded heads may take in memory (SegmentFile::decoded_head()).
inline constexpr std::size_t kHeadCacheBytes = std::size_t{8} << 20;

// A term's rows, as its segment's file holds them.
struct FileTerm {
    std::int64_t df = 0;
    std::string_view head;   // checked against its checksum
    std::string_view pages;  // its page rows, one after the other (not checked yet)
    std::uint64_t sums_first = 0;
    std::uint32_t page_count = 0;
};

// One segment's posting file, mapped. Thread-safe (it only reads, but for its cache, which
// has a lock).
class SegmentFile {
  public:
    // The file, when it exists and its header is sound and names (tag, seg, entries); null
    // otherwise. The term table is checked here, once; heads and pages when read. Throws
    // IndexError naming the file when its sections or its term table are damaged.
    // `head_cache_bytes` bounds decoded_head()'s cache.
    static std::unique_ptr<SegmentFile> open(const std::filesystem::path& file, std::uint64_t tag,
                                             std::int64_t seg, std::int64_t entries,
                                             std::size_t head_cache_bytes = kHeadCacheBytes);

    // The term's rows; nullopt when the segment does not hold it. Throws IndexError naming
    // the file when its head fails its checksum or lies outside the data.
    [[nodiscard]] std::optional<FileTerm> find(std::string_view term) const;
    // The head of `term`, whose rows find() gave as `rows` (which the cache keeps for it,
    // unchecked: they must be this file's rows of `term`), decoded (decode_head()). The
    // lists of many pages decoded most recently are kept, up to open()'s budget a file, and
    // then find() answers for them without searching or checking again: a common word's
    // page directory is decoded once in a long-running process rather than in every query
    // that names it (it was a fifth of a long query's time at a million documents). Throws
    // IndexError as decode_head() does.
    [[nodiscard]] std::shared_ptr<const TermList> decoded_head(std::string_view term,
                                                               const FileTerm& rows) const;
    // Whether page `p` of `term` (`bytes`, cut from term.pages) is as it was written.
    // page_sound() checks each time (for verify); page_read_sound() only the first time this
    // open file reads the page (the file is never written in place, and a page's bytes were
    // a tenth of a long query's time, checked in every query that read them).
    [[nodiscard]] bool page_read_sound(const FileTerm& term, std::size_t p,
                                       std::string_view bytes) const;
    [[nodiscard]] bool page_sound(const FileTerm& term, std::size_t p,
                                  std::string_view bytes) const;
    // What the decoded heads kept take, in bytes (as decoded_head() counts them).
    [[nodiscard]] std::size_t head_cache_bytes() const;
    [[nodiscard]] const std::filesystem::path& path() const { return map_.path(); }
    [[nodiscard]] std::uint64_t terms() const { return terms_; }

  private:
    struct Cached {
        std::string term;
        FileTerm rows;
        std::shared_ptr<const TermList> list;
        std::size_t bytes = 0;
    };

    SegmentFile(const std::filesystem::path& file, std::size_t head_cache_bytes)
        : map_(file), cache_budget_(head_cache_bytes) {}
    [[nodiscard]] std::optional<FileTerm> search(std::string_view term) const;

    util::MappedFile map_;
    std::uint64_t terms_ = 0, pages_ = 0, table_at_ = 0, sums_at_ = 0, strings_at_ = 0;
    // The decoded heads, the most recently used first.
    mutable std::mutex cache_mu_;
    mutable std::list<Cached> cache_;
    mutable std::unordered_map<std::string, std::list<Cached>::iterator> cached_;
    std::size_t cache_budget_;
    mutable std::size_t cache_bytes_ = 0;
    // A bit per page row: set once it was found sound.
    std::unique_ptr<std::atomic<std::uint64_t>[]> sound_;
};

// The posting files of one index directory, opened once per process and shared by its
// queries. Thread-safe.
class PostingFiles {
  public:
    // `note` is told, once per file, of damage a query found.
    PostingFiles(std::filesystem::path dir, std::function<void(const std::string&)> note);

    // The file of segment `seg` as a snapshot with posting tag `tag` describes it, or null
    // when there is none to use (then the rows are read).
    std::shared_ptr<const SegmentFile> get(std::uint64_t tag, std::int64_t seg,
                                           std::int64_t entries);
    // A query found `file` damaged (`what`): says so, forgets it and removes it, so that the
    // next write copies the rows again.
    void damaged(const SegmentFile& file, const std::string& what);

  private:
    struct Open {
        std::uint64_t tag;
        std::int64_t entries;
        std::shared_ptr<const SegmentFile> file;  // null: none to use, until `retry`
        std::chrono::steady_clock::time_point retry;
    };
    std::filesystem::path dir_;
    std::function<void(const std::string&)> note_;
    std::mutex mu_;
    std::unordered_map<std::int64_t, Open> open_;
    std::unordered_set<std::string> noted_;
};

// The directory of an index's posting files, from its rk.db.
std::filesystem::path posting_dir(const store::Database& db);
// The file of segment `seg` there.
std::filesystem::path segment_file_path(const std::filesystem::path& dir, std::int64_t seg);

// The tag of the index's posting files as `db`'s snapshot has it (0: none yet).
std::uint64_t posting_tag(store::Database& db);
// Draws the tag when the index has none yet. Call inside a write transaction.
void ensure_posting_tag(store::Database& db);

// After a commit, by the writer: copies the rows of each segment that has no sound file yet
// into one, and removes the files (and temporary files) of segments that are gone. Returns
// what went wrong (empty when nothing did): a file not written costs speed, not answers.
std::string sync_posting_files(store::Database& db);

// Problems found comparing each segment's file, where there is one, with its rows.
std::vector<std::string> verify_posting_files(store::Database& db);

}  // namespace rk::lexical
