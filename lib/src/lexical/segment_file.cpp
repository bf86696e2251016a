#include "lexical/segment_file.hpp"

#include <fmt/format.h>
#include <unistd.h>
#include <xxhash.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <set>
#include <system_error>

#include "lexical/segment_file_format.hpp"
#include "rk/error.hpp"

namespace rk::lexical {

namespace {

constexpr std::string_view kPrefix = "seg-";
constexpr std::string_view kSuffix = ".rkp";
// A file a query could not use is looked for again after this long (a writer may have
// copied it since).
constexpr auto kRetry = std::chrono::seconds(1);

using posting_file::kFormat;
using posting_file::kMagic;
using posting_file::TermRecord;
using posting_file::Trailer;
using posting_file::trailer_sum;

bool fits(std::uint64_t at, std::uint64_t count, std::uint64_t each, std::uint64_t end) {
    std::uint64_t bytes = 0;
    return !__builtin_mul_overflow(count, each, &bytes) && at <= end && bytes <= end - at;
}

IndexError damage(const std::filesystem::path& file, std::string_view what) {
    return IndexError(fmt::format("the posting file {}", what), file.string());
}

// Segment id of a file name "seg-N.rkp"; -1 for any other name.
std::int64_t segment_of(const std::string& name) {
    if (!name.starts_with(kPrefix) || !name.ends_with(kSuffix)) return -1;
    const std::string digits =
        name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
    if (digits.empty() || digits.size() > 18 ||
        digits.find_first_not_of("0123456789") != std::string::npos) {
        return -1;
    }
    return std::stoll(digits);
}

// Copies segment `seg`'s rows into `file`, through a temporary file.
void write_segment_file(store::Database& db, const std::filesystem::path& file, std::uint64_t tag,
                        std::int64_t seg, std::int64_t entries) {
    auto tmp = file;
    tmp += fmt::format(".tmp-{}", ::getpid());
    try {
        util::FileWriter out(tmp);
        std::vector<TermRecord> records;
        std::vector<std::uint64_t> sums;
        std::string strings;
        auto& heads =
            db.cached("SELECT term, df, data FROM lex_postings WHERE seg = ?1 ORDER BY term");
        auto& pages =
            db.cached("SELECT term, page, data FROM lex_blocks WHERE seg = ?1 ORDER BY term, page");
        heads.bind(1, seg);
        pages.bind(1, seg);
        bool more_pages = pages.step();
        std::string previous;
        try {
            while (heads.step()) {
                const std::string_view term = heads.text(0);
                if (!records.empty() && term <= previous) {
                    throw damage(file, "would hold terms out of order");
                }
                previous = term;
                TermRecord r{};
                r.term_at = strings.size();
                r.term_bytes = static_cast<std::uint32_t>(term.size());
                strings.append(term);
                r.df = heads.int64(1);
                const std::string_view head = heads.blob(2);
                r.data_at = out.written();
                r.head_bytes = static_cast<std::uint32_t>(head.size());
                r.head_sum = XXH3_64bits(head.data(), head.size());
                r.sums_first = sums.size();
                out.write(head);
                if (more_pages && pages.text(0) < term) {
                    throw IndexError(fmt::format("segment {} holds pages of '{}' without its head",
                                                 seg, pages.text(0)),
                                     db.file().string());
                }
                while (more_pages && pages.text(0) == term) {
                    if (pages.int64(1) != r.pages) {
                        throw IndexError(
                            fmt::format("segment {} lacks page {} of '{}'", seg, r.pages, term),
                            db.file().string());
                    }
                    const std::string_view page = pages.blob(2);
                    sums.push_back(XXH3_64bits(page.data(), page.size()));
                    out.write(page);
                    ++r.pages;
                    more_pages = pages.step();
                }
                r.data_bytes = out.written() - r.data_at;
                records.push_back(r);
            }
            if (more_pages) {
                throw IndexError(fmt::format("segment {} holds pages of '{}' without its head", seg,
                                             pages.text(0)),
                                 db.file().string());
            }
        } catch (...) {
            heads.reset();
            pages.reset();
            throw;
        }
        heads.reset();
        pages.reset();

        Trailer t{};
        std::memcpy(t.magic, kMagic, sizeof kMagic);
        t.format = kFormat;
        t.tag = tag;
        t.seg = seg;
        t.entries = entries;
        t.terms = records.size();
        t.pages = sums.size();
        out.pad_to((out.written() + 7) / 8 * 8);
        t.table_at = out.written();
        XXH3_state_t* state = XXH3_createState();
        if (state == nullptr) throw std::bad_alloc();
        XXH3_64bits_reset(state);
        auto put = [&](const void* p, std::size_t n) {
            out.write(p, n);
            XXH3_64bits_update(state, p, n);
        };
        put(records.data(), records.size() * sizeof(TermRecord));
        put(sums.data(), sums.size() * sizeof(std::uint64_t));
        put(strings.data(), strings.size());
        t.index_sum = XXH3_64bits_digest(state);
        XXH3_freeState(state);
        t.trailer_sum = trailer_sum(t);
        out.write(&t, sizeof t);
        out.finish();
    } catch (...) {
        std::error_code ec;
        std::filesystem::remove(tmp, ec);
        throw;
    }
    // Tests kill rk here, with the file written and not renamed, as a crash could.
    // NOLINTNEXTLINE(concurrency-mt-unsafe): the environment is not written after start-up
    if (const char* at = std::getenv("RK_TEST_KILL_AT");
        at != nullptr && std::string_view(at) == "posting-rename") {
        (void)::raise(SIGKILL);
    }
    util::replace_file(tmp, file, "a posting file");
}

}  // namespace

std::unique_ptr<SegmentFile> SegmentFile::open(const std::filesystem::path& file, std::uint64_t tag,
                                               std::int64_t seg, std::int64_t entries,
                                               std::size_t head_cache_bytes) {
    std::unique_ptr<SegmentFile> f;
    try {
        f.reset(new SegmentFile(file, head_cache_bytes));
    } catch (const IndexError&) {
        return nullptr;  // missing or unreadable: the rows serve
    }
    const std::size_t size = f->map_.size();
    if (size < sizeof(Trailer)) return nullptr;
    Trailer t{};
    std::memcpy(&t, f->map_.data() + size - sizeof t, sizeof t);
    if (std::memcmp(t.magic, kMagic, sizeof kMagic) != 0 || t.format != kFormat ||
        t.trailer_sum != trailer_sum(t) || t.tag != tag || t.seg != seg || t.entries != entries) {
        return nullptr;  // not this segment's copy (or cut short while written)
    }
    const std::uint64_t end = size - sizeof t;
    if (!fits(t.table_at, t.terms, sizeof(TermRecord), end) ||
        !fits(t.table_at + t.terms * sizeof(TermRecord), t.pages, sizeof(std::uint64_t), end)) {
        throw damage(file, "has sections outside the file");
    }
    f->terms_ = t.terms;
    f->pages_ = t.pages;
    f->sound_ = std::make_unique<std::atomic<std::uint64_t>[]>((t.pages + 63) / 64);
    f->table_at_ = t.table_at;
    f->sums_at_ = t.table_at + t.terms * sizeof(TermRecord);
    f->strings_at_ = f->sums_at_ + t.pages * sizeof(std::uint64_t);
    if (XXH3_64bits(f->map_.data() + t.table_at, end - t.table_at) != t.index_sum) {
        throw damage(file, "fails its term table's checksum");
    }
    return f;
}

std::optional<FileTerm> SegmentFile::find(std::string_view term) const {
    {
        const std::lock_guard lock(cache_mu_);
        if (const auto it = cached_.find(std::string(term)); it != cached_.end()) {
            return it->second->rows;
        }
    }
    return search(term);
}

std::shared_ptr<const TermList> SegmentFile::decoded_head(std::string_view term,
                                                          const FileTerm& rows) const {
    std::string key(term);
    {
        const std::lock_guard lock(cache_mu_);
        if (const auto it = cached_.find(key); it != cached_.end()) {
            cache_.splice(cache_.begin(), cache_, it->second);
            return it->second->list;
        }
    }
    auto list = std::make_shared<const TermList>(decode_head(rows.head));
    // A list of fewer pages decodes in less time than a cache lookup saves.
    constexpr std::uint32_t kMinPages = 4;
    if (rows.page_count < kMinPages) return list;
    const std::size_t bytes = key.size() + list->pages.size() * sizeof(PageInfo) +
                              list->impacts.size() * sizeof(Impact) + sizeof(Cached) +
                              sizeof(TermList);
    if (bytes > cache_budget_ / 4) return list;
    const std::lock_guard lock(cache_mu_);
    if (cached_.contains(key)) return list;  // another thread decoded it meanwhile
    while (cache_bytes_ + bytes > cache_budget_) {
        cache_bytes_ -= cache_.back().bytes;
        cached_.erase(cache_.back().term);
        cache_.pop_back();
    }
    cache_.push_front({key, rows, list, bytes});
    try {
        cached_.emplace(std::move(key), cache_.begin());
    } catch (...) {
        cache_.pop_front();
        throw;
    }
    cache_bytes_ += bytes;
    return list;
}

std::size_t SegmentFile::head_cache_bytes() const {
    const std::lock_guard lock(cache_mu_);
    return cache_bytes_;
}

std::optional<FileTerm> SegmentFile::search(std::string_view term) const {
    const unsigned char* base = map_.data();
    const std::uint64_t strings_bytes = map_.size() - sizeof(Trailer) - strings_at_;
    auto record = [&](std::uint64_t i) {
        TermRecord r{};
        std::memcpy(&r, base + table_at_ + i * sizeof r, sizeof r);
        if (!fits(r.term_at, r.term_bytes, 1, strings_bytes)) {
            throw damage(path(), fmt::format("has a term outside its strings (record {})", i));
        }
        return r;
    };
    auto name = [&](const TermRecord& r) {
        return std::string_view(reinterpret_cast<const char*>(base + strings_at_ + r.term_at),
                                r.term_bytes);
    };
    std::uint64_t lo = 0, hi = terms_;
    while (lo < hi) {
        const std::uint64_t mid = lo + (hi - lo) / 2;
        if (name(record(mid)) < term) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo == terms_) return std::nullopt;
    const TermRecord r = record(lo);
    if (name(r) != term) return std::nullopt;
    if (r.data_at > table_at_ || r.data_bytes > table_at_ - r.data_at ||
        r.head_bytes > r.data_bytes || !fits(r.sums_first, r.pages, 1, pages_)) {
        throw damage(path(), fmt::format("places the postings of '{}' outside its data", term));
    }
    const auto* data = reinterpret_cast<const char*>(base + r.data_at);
    FileTerm out;
    out.df = r.df;
    out.head = std::string_view(data, r.head_bytes);
    out.pages = std::string_view(data + r.head_bytes, r.data_bytes - r.head_bytes);
    out.sums_first = r.sums_first;
    out.page_count = r.pages;
    if (XXH3_64bits(out.head.data(), out.head.size()) != r.head_sum) {
        throw damage(path(), fmt::format("fails the checksum of the postings of '{}'", term));
    }
    return out;
}

bool SegmentFile::page_sound(const FileTerm& term, std::size_t p, std::string_view bytes) const {
    if (p >= term.page_count) return false;
    std::uint64_t sum = 0;
    std::memcpy(&sum, map_.data() + sums_at_ + (term.sums_first + p) * sizeof sum, sizeof sum);
    return XXH3_64bits(bytes.data(), bytes.size()) == sum;
}

bool SegmentFile::page_read_sound(const FileTerm& term, std::size_t p,
                                  std::string_view bytes) const {
    if (p >= term.page_count) return false;
    const std::uint64_t row = term.sums_first + p;
    auto& word = sound_[row / 64];
    const std::uint64_t bit = std::uint64_t{1} << (row % 64);
    if ((word.load(std::memory_order_relaxed) & bit) != 0) return true;
    if (!page_sound(term, p, bytes)) return false;
    word.fetch_or(bit, std::memory_order_relaxed);
    return true;
}

PostingFiles::PostingFiles(std::filesystem::path dir, std::function<void(const std::string&)> note)
    : dir_(std::move(dir)), note_(std::move(note)) {}

std::shared_ptr<const SegmentFile> PostingFiles::get(std::uint64_t tag, std::int64_t seg,
                                                     std::int64_t entries) {
    if (tag == 0) return nullptr;
    const auto now = std::chrono::steady_clock::now();
    const std::lock_guard lock(mu_);
    auto it = open_.find(seg);
    if (it != open_.end() && it->second.tag == tag && it->second.entries == entries &&
        (it->second.file || now < it->second.retry)) {
        return it->second.file;
    }
    Open o{tag, entries, nullptr, now + kRetry};
    const auto path = segment_file_path(dir_, seg);
    try {
        o.file = SegmentFile::open(path, tag, seg, entries);
    } catch (const IndexError& e) {
        if (noted_.insert(path.string()).second && note_) {
            note_(
                fmt::format("{}: {}; reading its rows from rk.db instead (the next write "
                            "copies them again)",
                            e.where(), e.what()));
        }
        std::error_code ec;
        std::filesystem::remove(path, ec);
    }
    open_[seg] = o;
    return o.file;
}

void PostingFiles::damaged(const SegmentFile& file, const std::string& what) {
    const std::lock_guard lock(mu_);
    if (noted_.insert(file.path().string()).second && note_) {
        note_(
            fmt::format("{}: {}; reading its rows from rk.db instead (the next write copies "
                        "them again)",
                        file.path().string(), what));
    }
    for (auto& [seg, o] : open_) {
        if (o.file.get() == &file) {
            o.file.reset();
            o.retry = std::chrono::steady_clock::now() + kRetry;
        }
    }
    std::error_code ec;
    std::filesystem::remove(file.path(), ec);
}

std::filesystem::path posting_dir(const store::Database& db) {
    return db.file().parent_path() / "postings";
}

std::filesystem::path segment_file_path(const std::filesystem::path& dir, std::int64_t seg) {
    return dir / fmt::format("{}{}{}", kPrefix, seg, kSuffix);
}

std::uint64_t posting_tag(store::Database& db) {
    auto& st = db.cached("SELECT value FROM lex_stats WHERE key = 'file_tag'");
    const std::uint64_t tag = st.step() ? static_cast<std::uint64_t>(st.int64(0)) : 0;
    st.reset();
    return tag;
}

void ensure_posting_tag(store::Database& db) {
    if (posting_tag(db) != 0) return;
    std::random_device rd;
    std::uint64_t tag = 0;
    while (tag == 0) tag = (std::uint64_t{rd()} << 32) ^ rd();
    db.cached("INSERT INTO lex_stats(key, value) VALUES('file_tag', ?1)")
        .bind(1, static_cast<std::int64_t>(tag))
        .run();
}

std::string sync_posting_files(store::Database& db) {
    const auto dir = posting_dir(db);
    try {
        if (posting_tag(db) == 0 &&
            db.query_int("SELECT count(*) FROM lex_segments").value_or(0) > 0) {
            // An index from before posting files: it gets its tag now.
            store::Transaction write(db);
            ensure_posting_tag(db);
            write.commit();
        }
        store::ReadTransaction tx(db);
        const std::uint64_t tag = posting_tag(db);
        std::vector<std::pair<std::int64_t, std::int64_t>> segments;  // id, entries
        {
            auto& st = db.cached("SELECT seg, entries FROM lex_segments ORDER BY seg");
            while (st.step()) segments.emplace_back(st.int64(0), st.int64(1));
            st.reset();
        }
        std::error_code ec;
        if (tag == 0 || segments.empty()) {
            if (!std::filesystem::exists(dir, ec)) return {};
        } else {
            std::filesystem::create_directories(dir, ec);
            if (ec) {
                return fmt::format("{}: cannot create the directory: {}", dir.string(),
                                   ec.message());
            }
        }
        std::set<std::int64_t> live;
        for (const auto& [seg, entries] : segments) live.insert(seg);
        if (tag == 0) live.clear();
        // Only the writer writes here, so a temporary file is one a killed writer left.
        for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
            const std::string name = entry.path().filename().string();
            const bool temporary = name.find(".tmp-") != std::string::npos;
            if (temporary || (name.starts_with(kPrefix) && !live.contains(segment_of(name)))) {
                std::filesystem::remove(entry.path(), ec);
            }
        }
        if (tag == 0) return {};
        for (const auto& [seg, entries] : segments) {
            const auto file = segment_file_path(dir, seg);
            try {
                if (SegmentFile::open(file, tag, seg, entries)) continue;
            } catch (const IndexError&) {
                // damaged: copied again below
            }
            write_segment_file(db, file, tag, seg, entries);
        }
    } catch (const Error& e) {
        return fmt::format("posting files not written ({}): {}", e.where(), e.what());
    } catch (const std::filesystem::filesystem_error& e) {
        return fmt::format("posting files not written: {}", e.what());
    }
    return {};
}

std::vector<std::string> verify_posting_files(store::Database& db) {
    std::vector<std::string> problems;
    const auto dir = posting_dir(db);
    const std::uint64_t tag = posting_tag(db);
    auto& segs = db.cached("SELECT seg, entries FROM lex_segments ORDER BY seg");
    std::vector<std::pair<std::int64_t, std::int64_t>> segments;
    while (segs.step()) segments.emplace_back(segs.int64(0), segs.int64(1));
    segs.reset();
    std::error_code ec;
    for (const auto& [seg, entries] : segments) {
        const auto file = segment_file_path(dir, seg);
        if (!std::filesystem::exists(file, ec)) continue;
        std::unique_ptr<SegmentFile> f;
        try {
            f = SegmentFile::open(file, tag, seg, entries);
        } catch (const IndexError& e) {
            problems.push_back(fmt::format("{}: {}", e.where(), e.what()));
            continue;
        }
        if (!f) continue;  // another segment's (older) copy: never read, replaced by a write
        auto& heads = db.cached("SELECT term, data FROM lex_postings WHERE seg = ?1 ORDER BY term");
        auto& pages =
            db.cached("SELECT data FROM lex_blocks WHERE seg = ?1 AND term = ?2 ORDER BY page");
        heads.bind(1, seg);
        std::size_t bad = 0;
        std::uint64_t rows = 0;
        std::string first_bad;
        try {
            while (heads.step()) {
                const std::string term = heads.str(0);
                ++rows;
                const auto t = f->find(term);
                if (!t) {
                    if (bad++ == 0) first_bad = term;
                    continue;
                }
                bool same = t->head == heads.blob(1);
                std::size_t at = 0, p = 0;
                pages.bind(1, seg).bind(2, term);
                while (same && pages.step()) {
                    const std::string_view row = pages.blob(0);
                    same = row.size() <= t->pages.size() - at &&
                           t->pages.substr(at, row.size()) == row && f->page_sound(*t, p, row);
                    at += row.size();
                    ++p;
                }
                pages.reset();
                if (!same || at != t->pages.size() || p != t->page_count) {
                    if (bad++ == 0) first_bad = term;
                }
            }
        } catch (const IndexError& e) {
            heads.reset();
            pages.reset();
            problems.push_back(fmt::format("{}: {}", e.where(), e.what()));
            continue;
        }
        heads.reset();
        if (rows != f->terms()) {
            problems.push_back(fmt::format("{}: holds {} terms, rk.db's segment {} holds {}",
                                           file.string(), f->terms(), seg, rows));
        }
        if (bad > 0) {
            problems.push_back(fmt::format(
                "{}: the postings of {} terms (the first: '{}') differ from rk.db's (the next "
                "write copies them again)",
                file.string(), bad, first_bad));
        }
    }
    return problems;
}

}  // namespace rk::lexical
