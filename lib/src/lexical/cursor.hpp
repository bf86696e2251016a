// What BM25's top-k search (bm25.cpp) walks: a cursor over one term's entries in one segment,
// read block by block from a posting file, from rk.db's rows, or from memory, with the bound
// of its scores per page; and the term-frequency part of BM25 it scores entries with.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lexical/postings.hpp"
#include "lexical/segment_file.hpp"
#include "rk/error.hpp"
#include "rk/search.hpp"
#include "store/sqlite.hpp"

namespace rk::lexical {

constexpr std::int64_t kEnd = std::numeric_limits<std::int64_t>::max();
// Bounds are raised by this much, so that rounding can never make a bound fall under the
// score it bounds.
constexpr double kBoundSlack = 1 + 1e-9;

// BM25's term-frequency part for one entry, with the query's parameters.
class Weigher {
  public:
    Weigher(const Bm25Params& p, double avg_length)
        : w_{p.title, p.heading, p.body}, k1_(p.k1), b_(p.b), avg_(avg_length) {}
    [[nodiscard]] double operator()(const std::array<std::uint32_t, kFields>& tf,
                                    std::uint32_t length) const {
        double f = 0;
        for (std::size_t i = 0; i < kFields; ++i) f += w_[i] * tf[i];
        return of(f, length);
    }
    // Entry i of a decoded block.
    [[nodiscard]] double operator()(const Block& block, std::size_t i) const {
        double f = 0;
        for (std::size_t k = 0; k < kFields; ++k) {
            if ((block.fields() & (1U << k)) != 0) f += w_[k] * block.tf(k, i);
        }
        return of(f, block.length(i));
    }

    // Entries [from, from + n) of a decoded block, each times `idf`, into out[0, n): the
    // same numbers as the one-entry form gives, in loops a compiler can vectorise.
    void operator()(const Block& block, std::size_t from, std::size_t n, double idf,
                    double* out) const {
        std::array<double, kBlockSize> f, length;
        std::fill_n(f.begin(), n, 0.0);
        for (std::size_t k = 0; k < kFields; ++k) {
            if ((block.fields() & (1U << k)) == 0) continue;
            for (std::size_t i = 0; i < n; ++i) f[i] += w_[k] * block.tf(k, from + i);
        }
        for (std::size_t i = 0; i < n; ++i) length[i] = block.length(from + i);
        for (std::size_t i = 0; i < n; ++i) out[i] = idf * of(f[i], length[i]);
    }

  private:
    // The part for a weighted count f (0 for none), computed whatever f is so that the loop
    // above has no branch.
    [[nodiscard]] double of(double f, double length) const {
        const double part = f * (k1_ + 1.0) / (f + k1_ * (1.0 - b_ + b_ * length / avg_));
        return f > 0 ? part : 0.0;
    }

    std::array<double, kFields> w_;
    double k1_, b_, avg_;
};

// Thrown by a cursor of another thread that would have to read rk.db.
struct NeedsDatabase {};

// A chunk an essential term holds, and its score so far.
struct Candidate {
    std::int64_t chunk = 0;
    double score = 0;
};

// One term's entries in one segment (or from FTS5, in memory). It reads a page only when it
// must stand in it, and decodes a block only when one of its entries is wanted: between
// blocks, and at a block's first entry, the directories say enough.
class Cursor {
  public:
    // A stored list, read from its segment's posting file when `file` is set (its rows in
    // `in_file`), else from rk.db. `dead` and `files` must outlive the cursor.
    Cursor(store::Database& db, std::int64_t seg, std::string term,
           std::shared_ptr<const TermList> list, double idf, const Weigher& weigh,
           const std::unordered_map<std::int64_t, std::int64_t>& dead,
           std::shared_ptr<const SegmentFile> file, FileTerm in_file, PostingFiles* files)
        : db_(&db),
          seg_(seg),
          term_(std::move(term)),
          list_(std::move(list)),
          dead_(&dead),
          idf_(idf),
          weigh_(&weigh),
          file_(std::move(file)),
          in_file_(in_file),
          files_(files) {
        if (file_) place_pages();
        init();
    }

    // Entries held in memory, sorted by chunk id, encoded as a stored list is.
    Cursor(const std::vector<Posting>& postings, double idf, const Weigher& weigh)
        : memory_(encode_list(postings)),
          list_(std::make_shared<const TermList>(decode_head(memory_.head))),
          idf_(idf),
          weigh_(&weigh) {
        init();
    }

    // Whether every page it may read is in memory or in a posting file (not in rk.db).
    [[nodiscard]] bool needs_no_database() const {
        return db_ == nullptr || file_ != nullptr || !list_->inline_page.empty();
    }
    // A copy for another thread, which must not use the database: a page it would have to
    // read from rk.db (its file's copy found damaged) throws NeedsDatabase instead.
    [[nodiscard]] std::unique_ptr<Cursor> clone_for_thread() const {
        std::unique_ptr<Cursor> c(new Cursor(*this));  // (the copy constructor is private)
        c->db_allowed_ = false;
        c->page_view_ = {};  // (it would point into this cursor's buffers)
        c->to_page(page_);
        return c;
    }

    // Not copied or moved but by clone_for_thread(), which leaves its copy at a page: a
    // copy does not take the decoded block it would stand in.
    Cursor(Cursor&&) = delete;
    Cursor& operator=(const Cursor&) = delete;
    Cursor& operator=(Cursor&&) = delete;

    // Back to where it stood when made, to be walked again.
    void rewind() {
        wpage_ = 0;
        to_page(0);
    }

    // The current entry's chunk id, kEnd past the last.
    [[nodiscard]] std::int64_t doc() const { return doc_; }
    // The list's last chunk id (0 for an empty list).
    [[nodiscard]] std::int64_t last() const { return last_; }

    // The current entry's score.
    double score() {
        ensure_entry();
        return entry_score(pos_);
    }

    void next() {
        ensure_entry();
        if (doc_ == kEnd) return;
        if (++pos_ < block_entries_.block.size()) {
            doc_ = block_entries_.block.chunk(pos_);
        } else {
            to_block(block_ + 1);
        }
    }

    // To the first entry at or after `target`.
    void advance(std::int64_t target) {
        if (doc_ >= target) return;
        if (state_ == State::page || list_->pages[page_].last < target) {
            std::size_t p = page_;
            while (p < list_->pages.size() && list_->pages[p].last < target) ++p;
            if (p != page_ || state_ != State::page) to_page(p);
            if (doc_ >= target) return;
            load_page();
        }
        std::size_t b = block_;
        while (blocks_[b].last < target) ++b;
        if (b != block_ || state_ != State::entry) {
            to_block(b);
            if (doc_ >= target) return;
            load_block();
            if (doc_ >= target || state_ != State::entry) return;
        }
        // Probes come in order, most often a few entries apart: a short scan first spares
        // a binary search its mispredicted branches.
        const auto* chunks = block_entries_.block.chunks();
        const std::size_t n = block_entries_.block.size();
        const std::size_t scan_end = std::min(n, pos_ + 8);
        while (pos_ < scan_end && chunks[pos_] < target) ++pos_;
        if (pos_ == scan_end && pos_ < n) {
            pos_ = static_cast<std::size_t>(std::lower_bound(chunks + pos_, chunks + n, target) -
                                            chunks);
        }
        if (pos_ < n) {
            doc_ = chunks[pos_];
        } else {
            to_block(block_ + 1);
        }
    }

    // Adds the scores of the entries in [lo, hi) into acc[chunk - lo], marking them in
    // `touched`, and stands on the first entry at or after hi.
    void accumulate(std::int64_t lo, std::int64_t hi, double* acc, std::uint64_t* touched) {
        advance(lo);
        while (doc_ < hi) {
            ensure_entry();
            if (doc_ >= hi) return;
            const Block& b = block_entries_.block;
            std::size_t end = pos_;
            while (end < b.size() && b.chunk(end) < hi) ++end;
            std::array<double, kBlockSize> scores;
            (*weigh_)(b, pos_, end - pos_, idf_, scores.data());
            for (std::size_t i = pos_; i < end; ++i) {
                const auto at = static_cast<std::size_t>(b.chunk(i) - lo);
                acc[at] += rounded(scores[i - pos_]);
                touched[at / 64] |= std::uint64_t{1} << (at % 64);
            }
            pos_ = end;
            if (pos_ < b.size()) {
                doc_ = b.chunk(pos_);
                return;
            }
            to_block(block_ + 1);
        }
    }

    // Adds this list's score to each of `candidates` (sorted by chunk id) it holds.
    void add_to(std::vector<Candidate>& candidates) {
        if (candidates.empty() || candidates.back().chunk < first_ ||
            candidates.front().chunk > last_) {
            return;
        }
        for (auto& c : candidates) {
            if (c.chunk > last_ || doc_ == kEnd) return;
            if (at(c.chunk)) c.score += score();
        }
    }

    // Whether the list holds `chunk`, standing on it if so (or on the first entry after).
    bool at(std::int64_t chunk) {
        if (chunk < first_ || chunk > last_) return false;  // outside the list: not moved
        advance(chunk);
        if (doc_ != chunk) return false;
        ensure_entry();  // the block's first entry may have been removed since
        return doc_ == chunk;
    }

    // The bound of the scores of entries in [lo, hi), from the pages there (0 if none).
    double window_bound(std::int64_t lo, std::int64_t hi) {
        const auto& pages = list_->pages;
        while (wpage_ < pages.size() && pages[wpage_].last < lo) ++wpage_;
        double best = 0;
        for (std::size_t p = wpage_; p < pages.size() && pages[p].first < hi; ++p) {
            best = std::max(best, bound_[p]);
        }
        return best;
    }
    // The first chunk id at or after `lo` an entry could have.
    [[nodiscard]] std::int64_t earliest(std::int64_t lo) const {
        if (doc_ >= lo) return doc_;
        std::size_t p = wpage_;
        while (p < list_->pages.size() && list_->pages[p].last < lo) ++p;
        return p == list_->pages.size() ? kEnd : std::max(lo, list_->pages[p].first);
    }

  private:
    Cursor(const Cursor&) = default;

    // Where the cursor stands: at a page's first entry (page not read), at a block's first
    // entry (block not decoded), or at a decoded entry.
    enum class State { page, block, entry };

    void init() {
        if (!list_->pages.empty()) {
            first_ = list_->pages.front().first;
            last_ = list_->pages.back().last;
        }
        bound_.reserve(list_->pages.size());
        std::uint32_t at = 0;
        for (const auto& p : list_->pages) {
            double best = 0;
            for (; at < p.impacts_end; ++at) {
                best = std::max(best, (*weigh_)(list_->impacts[at].tf, list_->impacts[at].length));
            }
            bound_.push_back(idf_ * best * kBoundSlack);
        }
        to_page(0);
    }

    // An entry's score, rounded down to a multiple of 2^-32: sums of such numbers (under
    // 2^21) are exact in a double, so a chunk's score does not depend on the order its terms
    // are added in, which follows the bounds met on the way (and, when two threads share the
    // work, their timing). Rounding down keeps the bounds above the scores they bound.
    [[nodiscard]] double entry_score(std::size_t i) const {
        return rounded(idf_ * (*weigh_)(block_entries_.block, i));
    }
    static double rounded(double exact) {
        constexpr double kScale = 4294967296.0;  // 2^32
        return static_cast<double>(static_cast<std::int64_t>(exact * kScale)) / kScale;
    }

    void to_page(std::size_t p) {
        page_ = p;
        state_ = State::page;
        doc_ = p < list_->pages.size() ? list_->pages[p].first : kEnd;
    }

    void load_page() {
        if (db_ == nullptr) {
            page_view_ = list_->inline_page.empty() ? memory_.pages[page_] : list_->inline_page;
            decode_page(page_view_, list_->pages[page_], blocks_);
        } else if (file_ && list_->inline_page.empty()) {
            const std::string_view bytes =
                in_file_.pages.substr(page_at_[page_], list_->pages[page_].bytes);
            if (file_->page_read_sound(in_file_, page_, bytes)) {
                page_view_ = bytes;
                try {
                    decode_page(page_view_, list_->pages[page_], blocks_);
                } catch (const IndexError& e) {
                    throw list_error(*db_, seg_, term_, e);
                }
            } else {
                if (!db_allowed_) throw NeedsDatabase{};
                file_damaged(fmt::format("page {} of the postings of '{}' fails its checksum",
                                         page_, term_));
                read_page(*db_, seg_, term_, *list_, page_, page_bytes_, blocks_);
                page_view_ = page_bytes_;
            }
        } else {
            read_page(*db_, seg_, term_, *list_, page_, page_bytes_, blocks_);
            page_view_ = page_bytes_;
        }
        to_block(0);
    }

    // Where each page starts in the file's copy of the list, checked against the head.
    void place_pages() {
        if (!list_->inline_page.empty()) return;  // a list of one block has no page rows
        std::uint64_t at = 0;
        page_at_.reserve(list_->pages.size());
        for (const auto& p : list_->pages) {
            page_at_.push_back(at);
            at += p.bytes;
        }
        if (at != in_file_.pages.size() || list_->pages.size() != in_file_.page_count) {
            file_damaged(
                fmt::format("holds pages of '{}' of other sizes than its head says", term_));
        }
    }

    void file_damaged(const std::string& what) {
        if (files_ != nullptr) files_->damaged(*file_, what);
        file_.reset();
    }

    void to_block(std::size_t b) {
        if (b >= blocks_.size()) {
            to_page(page_ + 1);
            return;
        }
        block_ = b;
        state_ = State::block;
        doc_ = blocks_[b].first;
    }

    // Decodes the current block and stands on its first live entry (or moves on, if none).
    void load_block() {
        Block& b = block_entries_.block;
        decode_block(page_view_, blocks_[block_], b);
        if (dead_ != nullptr && !dead_->empty()) {
            b.keep_if([&](std::int64_t chunk) { return !is_dead(*dead_, chunk, seg_); });
        }
        if (b.size() == 0) {
            to_block(block_ + 1);
            return;
        }
        pos_ = 0;
        state_ = State::entry;
        doc_ = b.chunk(0);
    }

    void ensure_entry() {
        while (state_ != State::entry && doc_ != kEnd) {
            if (state_ == State::page) {
                load_page();
            } else {
                load_block();
            }
        }
    }

    store::Database* db_ = nullptr;  // null for a list in memory
    bool db_allowed_ = true;
    std::int64_t seg_ = 0;
    std::string term_;
    EncodedList memory_;
    std::shared_ptr<const TermList> list_;  // shared with clones, and with the file's cache
    const std::unordered_map<std::int64_t, std::int64_t>* dead_ = nullptr;
    double idf_;
    const Weigher* weigh_;
    std::vector<double> bound_;  // per page
    // The list's first and last chunk ids: a segment's lists cover the chunks written in
    // its time, so a chunk is within the range of one of a term's cursors, most often.
    std::int64_t first_ = kEnd, last_ = 0;
    std::shared_ptr<const SegmentFile> file_;  // null: the list is read from rk.db
    FileTerm in_file_;
    PostingFiles* files_ = nullptr;
    std::vector<std::uint64_t> page_at_;  // each page's place in in_file_.pages
    State state_ = State::page;
    std::size_t page_ = 0, block_ = 0, pos_ = 0, wpage_ = 0;
    std::string_view page_view_;  // the current page's bytes (in the file, or in page_bytes_)
    std::string page_bytes_;      // a page read from rk.db
    std::vector<BlockRef> blocks_;
    // A decoded block, which a copy of the cursor (standing at a page) has no use for: copying
    // it would cost a query 4 KiB a cursor, for hundreds of cursors.
    struct DecodedBlock {
        Block block;
        DecodedBlock() = default;
        DecodedBlock(const DecodedBlock& /*unused*/) {}
        DecodedBlock& operator=(const DecodedBlock&) = delete;
    };
    DecodedBlock block_entries_;  // the current block's live entries, when state_ is entry
    std::int64_t doc_ = kEnd;
};

}  // namespace rk::lexical
