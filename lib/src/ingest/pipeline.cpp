// rk::ingest(): sources -> work items -> (worker threads) parsed, hashed, chunked documents
// -> (this thread) written round by round, a transaction spanning rounds up to about
// kCommitBytes of input (see work.hpp). Rounds are written in input order, so
// an ingest is deterministic whatever the number of jobs; while one round is written the
// workers already prepare the next. rk import's records take the same path (pipeline::run()).

#include "ingest/pipeline.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <sstream>
#include <system_error>
#include <thread>

#include "ingest/preparer.hpp"
#include "ingest/readers.hpp"
#include "ingest/walker.hpp"
#include "ingest/work.hpp"
#include "ingest/writer.hpp"
#include "lexical/segment_file.hpp"
#include "rk/error.hpp"
#include "rk/ingest.hpp"
#include "store/documents.hpp"
#include "store/index_impl.hpp"
#include "store/schema.hpp"
#include "text/encoding.hpp"
#include "text/tokenizer.hpp"
#include "util/gzip.hpp"
#include "vector/builder.hpp"

namespace rk::pipeline {

namespace {

using inputs::Format;

// Cuts the input into rounds of work items, reading JSONL files line by line.
class RoundMaker {
  public:
    RoundMaker(const std::vector<inputs::SourceFile>& files, const IngestOptions& o,
               ImportInput* import)
        : files_(files), o_(o), import_(import) {
        if (import_ != nullptr) offset_ = import_->offset;
    }

    std::vector<WorkItem> next(const std::function<void(const IngestNote&)>& fail) {
        std::vector<WorkItem> round;
        std::size_t bytes = 0;
        while (round.size() < kRoundItems && bytes < round_bytes_) {
            if (import_ != nullptr) {
                if (!import_done_ && !read_export(round, bytes)) import_done_ = true;
                if (import_done_) break;
                continue;
            }
            if (stdin_pending()) {
                add_stdin(round, bytes);
                continue;
            }
            if (jsonl_) {
                if (!fill_lines(round, bytes)) close_jsonl();
                continue;
            }
            if (next_file_ >= files_.size()) break;
            const auto& f = files_[next_file_++];
            const Format format = inputs::format_for(f.path.filename().string());
            if (format == Format::jsonl) {
                open_jsonl(f, fail);
                continue;
            }
            WorkItem item;
            item.kind = WorkItem::Kind::file;
            item.display = f.path.string();
            item.source = f.path.string();
            item.format = format;
            item.bytes = f.size;
            bytes += f.size;
            round.push_back(std::move(item));
        }
        round_bytes_ = std::min(round_bytes_ * 2, kRoundBytes);
        return round;
    }

    // The last line read and the byte after it: where a truncated export ends.
    [[nodiscard]] std::int64_t line() const { return line_no_; }
    [[nodiscard]] std::uint64_t offset() const { return offset_; }

  private:
    bool stdin_pending() const { return o_.stdin_data && !stdin_done_; }

    void add_stdin(std::vector<WorkItem>& round, std::size_t& bytes) {
        const std::string& data = *o_.stdin_data;
        const auto first = data.find_first_not_of(" \t\r\n");
        if (first != std::string::npos && data[first] == '{') {
            if (!stdin_stream_) {
                stdin_stream_ = std::make_unique<std::istringstream>(data);
                line_no_ = 0;
            }
            if (!read_lines(*stdin_stream_, "<stdin>", "", round, bytes)) stdin_done_ = true;
            return;
        }
        WorkItem item;
        item.kind = WorkItem::Kind::stdin_text;
        item.display = "<stdin>";
        item.data = data;
        item.bytes = data.size();
        bytes += data.size();
        round.push_back(std::move(item));
        stdin_done_ = true;
    }

    void open_jsonl(const inputs::SourceFile& f,
                    const std::function<void(const IngestNote&)>& fail) {
        std::unique_ptr<std::istream> in =
            std::make_unique<std::ifstream>(f.path, std::ios::binary);
        if (!*in) {
            fail({IngestNote::Level::error, f.path.string(),
                  fmt::format("cannot read: {}",
                              std::error_code(errno, std::generic_category()).message())});
            return;
        }
        if (inputs::gzip_name(f.path.filename().string())) {
            // Compressed: decompressed whole, then read line by line as any other.
            std::ostringstream data;
            data << in->rdbuf();
            try {
                in = std::make_unique<std::istringstream>(
                    util::gunzip(std::move(data).str(), kMaxDecompressed));
            } catch (const InputError& e) {
                fail({IngestNote::Level::error, f.path.string(), e.what()});
                return;
            }
        }
        jsonl_ = std::move(in);
        jsonl_path_ = f.path.string();
        line_no_ = 0;
    }

    void close_jsonl() { jsonl_.reset(); }

    bool fill_lines(std::vector<WorkItem>& round, std::size_t& bytes) {
        return read_lines(*jsonl_, jsonl_path_, jsonl_path_, round, bytes);
    }

    // Adds one work item of up to kLinesPerItem lines or about kBytesPerItem; false at the end
    // of the stream.
    bool read_lines(std::istream& in, const std::string& display, const std::string& source,
                    std::vector<WorkItem>& round, std::size_t& bytes) {
        WorkItem item;
        item.kind = WorkItem::Kind::lines;
        item.display = display;
        item.source = source;
        item.format = Format::jsonl;
        std::string line;
        bool more = true;
        while (item.lines.size() < kLinesPerItem && item.bytes < kBytesPerItem) {
            if (!std::getline(in, line)) {
                more = false;
                break;
            }
            ++line_no_;
            item.bytes += line.size() + 1;
            if (line_no_ == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line.find_first_not_of(" \t") == std::string::npos) continue;
            item.lines.emplace_back(line_no_, std::move(line));
        }
        bytes += item.bytes;
        if (item.bytes > 0) round.push_back(std::move(item));
        return more;
    }

    // Adds one work item of an export's lines (numbered from 2, after the header); false at
    // the end of the input. A read error ends the input, noted in the import's `stop`.
    bool read_export(std::vector<WorkItem>& round, std::size_t& bytes) {
        std::istream& in = *import_->in;
        WorkItem item;
        item.kind = WorkItem::Kind::exported;
        item.display = import_->display;
        std::string line;
        bool more = true;
        while (item.lines.size() < kLinesPerItem && item.bytes < kBytesPerItem) {
            if (!std::getline(in, line)) {
                more = false;
                break;
            }
            ++line_no_;
            const std::uint64_t start = offset_;
            const bool newline = !in.eof();
            const std::size_t n = line.size() + (newline ? 1 : 0);
            offset_ += n;
            item.bytes += n;
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line.find_first_not_of(" \t") == std::string::npos) continue;
            item.lines.emplace_back(line_no_, std::move(line));
            item.starts.push_back(start);
            item.cut_short = !newline;
        }
        if (in.bad()) {
            import_->stop = IngestNote{IngestNote::Level::error,
                                       fmt::format("{}:{}", import_->display, line_no_ + 1),
                                       fmt::format("cannot read the input at byte {}", offset_)};
            more = false;
        }
        bytes += item.bytes;
        if (item.bytes > 0) round.push_back(std::move(item));
        return more;
    }

    const std::vector<inputs::SourceFile>& files_;
    const IngestOptions& o_;
    ImportInput* import_;
    bool import_done_ = false;
    std::uint64_t offset_ = 0;  // an export's: bytes read
    std::size_t next_file_ = 0;
    // The first rounds are small, so that writing starts soon.
    std::size_t round_bytes_ = kRoundBytes / 8;
    bool stdin_done_ = false;
    std::unique_ptr<std::istringstream> stdin_stream_;
    std::unique_ptr<std::istream> jsonl_;
    std::string jsonl_path_;
    std::int64_t line_no_ = 1;  // an export's header is line 1; a JSONL file's count restarts
};

std::vector<WorkResult> process(std::vector<WorkItem> items, std::vector<Preparer>& preparers) {
    std::vector<WorkResult> results(items.size());
    std::atomic<std::size_t> next{0};
    auto work = [&](Preparer& p) {
        for (std::size_t i = next++; i < items.size(); i = next++) {
            try {
                p.run(items[i], results[i]);
            } catch (const std::exception& e) {
                IngestNote note{IngestNote::Level::error, items[i].display, e.what()};
                if (items[i].kind == WorkItem::Kind::exported) {
                    // An import cannot go on past a line it could not take.
                    results[i].stop = std::move(note);
                } else {
                    ++results[i].failed;
                    results[i].notes.push_back(std::move(note));
                }
            }
        }
    };
    if (preparers.size() == 1 || items.size() == 1) {
        work(preparers.front());
    } else {
        std::vector<std::jthread> threads;
        threads.reserve(preparers.size());
        for (auto& p : preparers) threads.emplace_back(work, std::ref(p));
    }
    return results;
}

}  // namespace

IngestReport run(Index& index, const IngestOptions& options, const IngestCallbacks& cb,
                 ImportInput* import) {
    if (index.mode() != Index::Mode::write) {
        throw IndexError("index is open read-only", index.dir().string());
    }
    const auto t0 = std::chrono::steady_clock::now();
    IngestReport report;
    auto& db = *index.impl().db;

    const inputs::Walk walk = import != nullptr
                                  ? inputs::Walk{}
                                  : inputs::walk(options, index.dir(), cb.note, report.failed);
    const pipeline::Known known = store::load_known(db);

    IngestProgress progress;
    for (const auto& f : walk.files) progress.bytes_total += static_cast<std::int64_t>(f.size);
    if (options.stdin_data)
        progress.bytes_total += static_cast<std::int64_t>(options.stdin_data->size());
    if (import != nullptr) progress.bytes_total += import->size;

    unsigned jobs = options.jobs != 0 ? options.jobs : std::thread::hardware_concurrency();
    jobs = std::clamp(jobs, 1U, 256U);
    const vector::Embedding* embedding =
        index.impl().has_vectors() && !options.dry_run ? &index.impl().embedding() : nullptr;
    std::vector<pipeline::Preparer> preparers;
    preparers.reserve(jobs);
    const std::string tokenizer =
        store::fts_tokenize_arg(index.settings().tokenizer, index.settings().split_words);
    for (unsigned i = 0; i < jobs; ++i) {
        preparers.emplace_back(options, index.settings(), known,
                               text::Tokenizer(db.handle(), tokenizer), embedding, import);
    }

    text::Tokenizer writer_tokenizer(db.handle(), tokenizer);
    // The graph takes the committed vectors in the background while the text goes in.
    std::optional<vector::GraphBuilder> graph;
    if (embedding != nullptr) {
        graph.emplace(db.file(), index.dir() / "vectors.hnsw", embedding->bits(),
                      vector::GraphParams{});
    }
    pipeline::Writer writer(db, writer_tokenizer, index.settings(), index.impl().layout(),
                            embedding, options, known, cb, report, graph ? &*graph : nullptr);
    pipeline::RoundMaker rounds(walk.files, options, import);
    auto fail = [&](const IngestNote& n) {
        ++report.failed;
        writer.mark_failed_source(n.where);
        if (cb.note) cb.note(n);
    };

    // Workers prepare round r+1 while this thread writes round r.
    auto start = [&](std::vector<pipeline::WorkItem>&& items) {
        return std::async(std::launch::async, pipeline::process, std::move(items),
                          std::ref(preparers));
    };
    std::future<std::vector<pipeline::WorkResult>> pending;
    if (auto first = rounds.next(fail); !first.empty()) pending = start(std::move(first));
    while (pending.valid()) {
        auto following = rounds.next(fail);
        auto results = pending.get();
        if (!following.empty()) pending = start(std::move(following));
        writer.write(results);
        progress.bytes_done = report.bytes;
        progress.documents = report.added + report.updated + report.unchanged;
        if (cb.progress) cb.progress(progress);
        if (import != nullptr) {
            for (const auto& r : results) {
                import->chunks_kept += r.chunks_kept;
                import->vectors_kept += r.vectors_kept;
                import->vectors_embedded += r.vectors_embedded;
            }
            // What follows a bad line is not written; what came before is committed below.
            if (writer.stopped()) break;
        }
    }
    if (pending.valid()) pending.wait();
    writer.commit();
    if (import != nullptr) {
        if (writer.stopped()) {
            import->stop = writer.stopped();
        } else if (!import->stop && !writer.ended()) {
            import->stop = IngestNote{
                IngestNote::Level::error, fmt::format("{}:{}", import->display, rounds.line()),
                fmt::format("the input ends at byte {} without the export's last line "
                            "(rk_export_end): the export is truncated",
                            rounds.offset())};
        }
    }
    if (options.prune) writer.prune(walk.roots);
    if (!options.dry_run) {
        // The posting files follow once, at the end: the segments of each commit are soon
        // merged into bigger ones, whose rows readers read until then.
        if (const auto problem = lexical::sync_posting_files(*index.impl().db);
            !problem.empty() && cb.note) {
            cb.note({IngestNote::Level::warning, "postings", problem});
        }
    }
    // Fold the write-ahead log into rk.db, so that the index's size on disk is what it holds
    // and readers start from a short log. Busy readers only make this partial.
    if (!options.dry_run) {
        // The graph follows the committed vectors (vectors.hnsw written and renamed).
        if (graph) {
            auto built = graph->finish();
            if (!graph->damage().empty() && cb.note) {
                cb.note({IngestNote::Level::warning, "vectors.hnsw",
                         fmt::format("{}; rebuilt it from rk.db", graph->damage())});
            }
            if (built) index.impl().adopt_graph(std::move(built));
            (void)index.impl().graph();
        }
        db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    }

    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return report;
}

}  // namespace rk::pipeline

namespace rk {

IngestReport ingest(Index& index, const IngestOptions& options, const IngestCallbacks& cb) {
    if (options.encoding) {
        try {
            (void)text::decode("", *options.encoding);
        } catch (const InputError& e) {
            throw UsageError(fmt::format("--encoding: {}", e.what()));
        }
    }
    return pipeline::run(index, options, cb, nullptr);
}

}  // namespace rk
