// rk::ingest(): sources -> work items -> (worker threads) parsed, hashed, chunked documents
// -> (this thread) one transaction per round of work. Rounds are written in input order, so
// an ingest is deterministic whatever the number of jobs; while one round is written the
// workers already prepare the next.

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <future>
#include <sstream>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "ingest/chunker.hpp"
#include "ingest/readers.hpp"
#include "ingest/records.hpp"
#include "ingest/walker.hpp"
#include "rk/error.hpp"
#include "rk/ingest.hpp"
#include "rk/json.hpp"
#include "store/documents.hpp"
#include "store/index_impl.hpp"
#include "store/schema.hpp"
#include "text/encoding.hpp"
#include "text/tokenizer.hpp"
#include "text/utf8.hpp"
#include "util/gzip.hpp"
#include "util/hash.hpp"
#include "vector/builder.hpp"

namespace fs = std::filesystem;

namespace rk {

namespace {

using inputs::Format;
using Known = std::unordered_map<std::string, store::KnownDocument>;

// A round holds about this much input, so that progress moves, memory stays bounded and the
// workers prepare the next round while this thread writes one.
constexpr std::size_t kRoundBytes = std::size_t{1} << 20;
constexpr std::size_t kRoundItems = 64;
// A transaction spans rounds up to about this much input: fewer, larger commits (and posting
// segments) are cheaper, and a killed ingest loses at most this much work.
constexpr std::size_t kCommitBytes = std::size_t{16} << 20;

// Tests make transactions small (RK_TEST_COMMIT_BYTES), to see what several of them do.
std::size_t commit_bytes() {
    // NOLINTNEXTLINE(concurrency-mt-unsafe): the environment is not written after start-up
    const char* v = std::getenv("RK_TEST_COMMIT_BYTES");
    return v != nullptr ? std::max<std::size_t>(1, std::strtoull(v, nullptr, 10)) : kCommitBytes;
}
constexpr std::size_t kLinesPerItem = 256;
// A compressed file that would decompress to more is refused (a "zip bomb" of a few MiB).
constexpr std::size_t kMaxDecompressed = std::size_t{1} << 30;
constexpr std::size_t kBytesPerItem = std::size_t{128} << 10;

struct WorkItem {
    enum class Kind { file, lines, stdin_text };
    Kind kind = Kind::file;
    std::string display;  // how notes name the input
    std::string source;   // absolute path, or empty for standard input
    Format format = Format::document;
    std::string data;                                         // standard input's text
    std::vector<std::pair<std::int64_t, std::string>> lines;  // JSONL: (line number, line)
    std::uint64_t bytes = 0;
};

// A document ready to write. It is not cut into chunks when it is unchanged since the last
// ingest, as then it is normally not written. It is after all when an earlier record with its
// id changed the document in this run; for that the worker keeps a reader's segments.
struct Prepared {
    store::DocumentRecord rec;
    std::string where;
    bool cut = false;
    std::optional<std::vector<inputs::Segment>> segments;  // a reader's, when not cut
};

struct WorkResult {
    std::vector<Prepared> docs;
    std::vector<IngestNote> notes;
    std::int64_t failed = 0, skipped = 0;
    std::uint64_t bytes = 0;
    std::string source;  // the input's source, so that --prune spares inputs that failed
};

std::string hash_hex(std::initializer_list<std::string_view> fields) {
    util::Hash128 h;
    for (const auto f : fields) h.update_field(f);
    return h.hex();
}

std::string meta_json(const std::vector<std::pair<std::string, std::string>>& a,
                      const std::vector<std::pair<std::string, std::string>>& b) {
    JsonWriter w;
    w.begin_object();
    std::unordered_set<std::string> seen;
    // The user's --meta wins over what the document says of itself.
    for (const auto* list : {&b, &a}) {
        for (const auto& [k, v] : *list) {
            if (seen.insert(k).second) w.key(k).value(v);
        }
    }
    w.end_object();
    return w.take();
}

// The first line of some text, trimmed and cut at a character boundary: a title for stdin.
std::string first_line(std::string_view text, std::size_t max_bytes) {
    const auto b = text.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) return {};
    text = text.substr(b);
    text = text.substr(0, text.find('\n'));
    while (!text.empty() && (text.back() == ' ' || text.back() == '\r')) text.remove_suffix(1);
    if (text.size() > max_bytes) {
        std::size_t cut = max_bytes;
        while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
        text = text.substr(0, cut);
    }
    return std::string(text);
}

std::optional<std::string> read_file(const std::string& path, std::string& error) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        error = std::error_code(errno, std::generic_category()).message();
        return std::nullopt;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) {
        error = "read error";
        return std::nullopt;
    }
    return std::move(ss).str();
}

// Cuts a document into chunks and, unless in a dry run, counts their terms and embeds them.
// One per thread: each worker's, and the writer's for a document that must be written after
// all (see Prepared).
class Cutter {
  public:
    Cutter(const IngestOptions& o, const Settings& s, text::Tokenizer& tokenizer,
           const embed::BuiltinEmbedder* embedder)
        : o_(o), s_(s), embedder_(embedder), counter_(tokenizer) {}

    // `segments`: a reader's, or null for a record (which carries no structure of its own, so
    // its text is cut at paragraphs).
    void cut(Prepared& p, const std::vector<inputs::Segment>* segments) {
        inputs::Parsed text;
        if (segments == nullptr) {
            text = inputs::read_text(p.rec.body);
            segments = &text.segments;
        }
        p.rec.chunks = inputs::make_chunks(p.rec.body, *segments, s_.chunk_size, s_.chunk_overlap);
        if (!o_.dry_run) {
            for (auto& c : p.rec.chunks) {
                c.terms = counter_.count(p.rec.title, c.heading, c.text);
                if (embedder_ != nullptr) {
                    c.vector = vector::embed_chunk(
                        *embedder_, vector::embedding_text(p.rec.title, c.heading, c.text));
                }
            }
        }
        p.cut = true;
    }

  private:
    const IngestOptions& o_;
    const Settings& s_;
    const embed::BuiltinEmbedder* embedder_;  // null for an index without vectors
    lexical::TermCounter counter_;
};

// Parses, hashes and (unless unchanged since the last ingest) chunks. One per worker thread.
class Preparer {
  public:
    Preparer(const IngestOptions& o, const Settings& s, const Known& known,
             text::Tokenizer tokenizer, const embed::BuiltinEmbedder* embedder)
        : o_(o),
          known_(known),
          tokenizer_(std::make_unique<text::Tokenizer>(std::move(tokenizer))),
          cutter_(o, s, *tokenizer_, embedder),
          fields_{o.id_field, o.title_field, o.text_field} {}

    void run(WorkItem& item, WorkResult& r) {
        r.bytes = item.bytes;
        r.source = item.source;
        switch (item.kind) {
            case WorkItem::Kind::file:
                file(item, r);
                break;
            case WorkItem::Kind::lines:
                lines(item, r);
                break;
            case WorkItem::Kind::stdin_text:
                text_document(item, std::move(item.data), r);
                break;
        }
    }

  private:
    static void note(WorkResult& r, IngestNote::Level level, std::string where, std::string what) {
        r.notes.push_back({level, std::move(where), std::move(what)});
    }

    // Repairs invalid UTF-8 in place and says where the first bad byte was.
    static void repair(std::string& s, const std::string& where, WorkResult& r) {
        if (const auto bad = text::utf8_first_invalid(s)) {
            const std::size_t n = text::utf8_repair(s);
            note(r, IngestNote::Level::warning, where,
                 fmt::format("invalid UTF-8 at byte {}; {} sequence{} replaced with U+FFFD", *bad,
                             n, n == 1 ? "" : "s"));
        }
    }

    void file(WorkItem& item, WorkResult& r) {
        std::string error;
        auto data = read_file(item.source, error);
        if (!data) {
            ++r.failed;
            note(r, IngestNote::Level::error, item.display, fmt::format("cannot read: {}", error));
            return;
        }
        const std::string filename = fs::path(item.source).filename().string();
        if (inputs::gzip_name(filename)) {
            try {
                *data = util::gunzip(*data, kMaxDecompressed);
            } catch (const InputError& e) {
                ++r.failed;
                note(r, IngestNote::Level::error, item.display, e.what());
                return;
            }
        }
        // A binary format's reader takes the bytes as they are.
        const bool binary_format =
            item.format == Format::document &&
            inputs::reader_for(inputs::without_gz(filename), *data).reads_bytes();
        if (!binary_format && !to_utf8(*data, item.display, r)) return;
        if (item.format == Format::json) {
            json_file(item, *data, r);
            return;
        }
        text_document(item, std::move(*data), r);
    }

    // Makes a file's bytes UTF-8: decoded from the encoding its byte order mark, --encoding
    // or detection names, or left for repair() when they are UTF-8 with a few bad bytes.
    // False when the file is skipped (binary) or failed (not in that encoding), noted.
    bool to_utf8(std::string& data, const std::string& where, WorkResult& r) const {
        std::optional<std::string> from;
        bool detected = false;
        std::string_view named_by;  // what named the encoding, for an error
        if (auto bom = text::byte_order_mark(data)) {
            data.erase(0, bom->bytes);
            if (bom->encoding != "UTF-8") from = bom->encoding;
            named_by = "its byte order mark";
        } else if (o_.encoding) {
            from = *o_.encoding;
            named_by = "--encoding";
        } else if (text::looks_binary(data)) {
            ++r.skipped;
            note(r, IngestNote::Level::info, where, "binary file skipped");
            return false;
        } else if (text::utf8_first_invalid(data) && mostly_not_utf8(data)) {
            // Bytes that are mostly not UTF-8 are most likely text in a legacy encoding;
            // UTF-8 with a few bad bytes is repaired instead.
            from = text::detect_encoding(data);
            detected = from.has_value();
        }
        if (!from) return true;
        try {
            data = text::decode(data, *from);
        } catch (const InputError& e) {
            if (detected) return true;  // a wrong guess: read as UTF-8, repaired
            ++r.failed;
            note(r, IngestNote::Level::error, where,
                 fmt::format("{} (named by {}); not read", e.what(), named_by));
            return false;
        }
        if (detected) {
            note(r, IngestNote::Level::info, where,
                 fmt::format("not UTF-8: decoded as {} (detected; --encoding sets it)", *from));
        }
        return true;
    }

    // Whether `s`, which is not valid UTF-8, is mostly not UTF-8: it holds no well-formed
    // multi-byte sequence, or more ill-formed ones than well-formed (at least 8: text in
    // Shift_JIS holds some well-formed ones by chance, and UTF-8 with a few bad bytes is not
    // worth a guess).
    static bool mostly_not_utf8(std::string_view s) {
        std::size_t good = 0, bad = 0;
        for (std::size_t i = 0; i < s.size();) {
            if (static_cast<unsigned char>(s[i]) < 0x80) {
                ++i;
                continue;
            }
            const std::size_t n = text::utf8_sequence_length(s, i);
            (n > 1 ? good : bad) += 1;
            i += n > 1 ? n : 1;
        }
        return good == 0 || (bad >= 8 && bad > good);
    }

    void text_document(WorkItem& item, std::string body, WorkResult& r) {
        const bool from_stdin = item.kind == WorkItem::Kind::stdin_text;
        const std::string filename = from_stdin ? "" : fs::path(item.source).filename().string();
        const auto& reader = inputs::reader_for(inputs::without_gz(filename), body);
        if (!reader.reads_bytes()) {
            if (body.find_first_not_of(" \t\r\n\f\v") == std::string::npos) {
                ++r.skipped;
                note(r, IngestNote::Level::info, item.display, "empty, skipped");
                return;
            }
            repair(body, item.display, r);
        }
        Prepared p;
        p.where = item.display;
        inputs::Parsed parsed;
        try {
            parsed = reader.read(body);
        } catch (const InputError& e) {
            ++r.failed;
            note(r, IngestNote::Level::error, item.display, e.what());
            return;
        }
        if (reader.reads_bytes()) repair(body, item.display, r);
        if (body.find_first_not_of(" \t\r\n\f\v") == std::string::npos) {
            ++r.skipped;
            note(r, IngestNote::Level::info, item.display,
                 fmt::format("no text (read as {}), skipped", reader.name()));
            return;
        }
        if (parsed.title.empty()) {
            parsed.title =
                from_stdin ? first_line(body, 120) : fs::path(item.source).filename().string();
        }
        p.rec.title = parsed.title;
        p.rec.source = item.source;
        p.rec.collection = o_.collection;
        p.rec.meta = meta_json(o_.meta, parsed.meta);
        p.rec.body = std::move(body);
        p.rec.hash = hash_hex({p.rec.collection, p.rec.title, p.rec.meta, p.rec.body});
        p.rec.ext_id = from_stdin ? "stdin:" + p.rec.hash.substr(0, 16) : item.source;
        finish(p, &parsed, r);
    }

    void json_file(WorkItem& item, std::string& data, WorkResult& r) {
        repair(data, item.display, r);
        try {
            parser_.parse_document(
                data, fields_, o_.meta,
                [&](std::size_t n, inputs::Record&& rec) {
                    record(std::move(rec), item, fmt::format("{}[{}]", item.display, n), r);
                },
                [&](std::size_t n, const char* what) {
                    ++r.failed;
                    note(r, IngestNote::Level::error, fmt::format("{}[{}]", item.display, n), what);
                });
        } catch (const InputError& e) {
            ++r.failed;
            note(r, IngestNote::Level::error, item.display, e.what());
        }
    }

    void lines(WorkItem& item, WorkResult& r) {
        for (auto& [line_no, line] : item.lines) {
            const std::string where = fmt::format("{}:{}", item.display, line_no);
            repair(line, where, r);
            try {
                record(parser_.parse_object(line, fields_, o_.meta), item, where, r);
            } catch (const InputError& e) {
                ++r.failed;
                note(r, IngestNote::Level::error, where, e.what());
            }
        }
    }

    void record(inputs::Record&& rec, const WorkItem& item, std::string where, WorkResult& r) {
        Prepared p;
        p.where = std::move(where);
        p.rec.source = item.source;
        p.rec.collection = o_.collection;
        p.rec.title = std::move(rec.title);
        p.rec.meta = std::move(rec.meta);
        p.rec.body = std::move(rec.text);
        p.rec.hash = hash_hex({p.rec.collection, p.rec.title, p.rec.meta, p.rec.body});
        // A record without an id is named by its content, which is stable across runs.
        p.rec.ext_id = rec.id.empty() ? p.rec.hash.substr(0, 16) : std::move(rec.id);
        if (rec.blank_id) {
            // Most likely a mistake in the data, which the fallback would otherwise hide.
            note(r, IngestNote::Level::warning, p.where,
                 fmt::format("'{}' is null or blank; the id is the content hash {} instead",
                             o_.id_field, p.rec.ext_id));
        }
        finish(p, nullptr, r);
    }

    void finish(Prepared& p, inputs::Parsed* parsed, WorkResult& r) {
        const auto k = known_.find(p.rec.ext_id);
        if (k == known_.end() || k->second.hash != p.rec.hash) {
            cutter_.cut(p, parsed != nullptr ? &parsed->segments : nullptr);
        } else if (parsed != nullptr) {
            p.segments = std::move(parsed->segments);
        }
        r.docs.push_back(std::move(p));
    }

    const IngestOptions& o_;
    const Known& known_;
    std::unique_ptr<text::Tokenizer> tokenizer_;  // stays put when the Preparer moves
    Cutter cutter_;
    inputs::RecordFields fields_;
    inputs::RecordParser parser_;
};

// Cuts the input into rounds of work items, reading JSONL files line by line.
class RoundMaker {
  public:
    RoundMaker(const std::vector<inputs::SourceFile>& files, const IngestOptions& o)
        : files_(files), o_(o) {}

    std::vector<WorkItem> next(const std::function<void(const IngestNote&)>& fail) {
        std::vector<WorkItem> round;
        std::size_t bytes = 0;
        while (round.size() < kRoundItems && bytes < round_bytes_) {
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

    const std::vector<inputs::SourceFile>& files_;
    const IngestOptions& o_;
    std::size_t next_file_ = 0;
    // The first rounds are small, so that writing starts soon.
    std::size_t round_bytes_ = kRoundBytes / 8;
    bool stdin_done_ = false;
    std::unique_ptr<std::istringstream> stdin_stream_;
    std::unique_ptr<std::istream> jsonl_;
    std::string jsonl_path_;
    std::int64_t line_no_ = 0;
};

std::vector<WorkResult> process(std::vector<WorkItem> items, std::vector<Preparer>& preparers) {
    std::vector<WorkResult> results(items.size());
    std::atomic<std::size_t> next{0};
    auto work = [&](Preparer& p) {
        for (std::size_t i = next++; i < items.size(); i = next++) {
            try {
                p.run(items[i], results[i]);
            } catch (const std::exception& e) {
                ++results[i].failed;
                results[i].notes.push_back({IngestNote::Level::error, items[i].display, e.what()});
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

// Decides each document's fate against what the index held and what this run wrote.
//
// When one run meets an id again, the later record replaces the earlier one. The report
// counts each document once, by what the whole run did to it: added when the index did not
// hold it before the run, else updated or unchanged by whether the record that ends up
// stored differs from the one stored before; `chunks` counts the chunks of the added and
// updated documents as they end up. So a rerun over the same input, duplicates and all,
// reports every document unchanged.
class Writer {
  public:
    Writer(store::Database& db, text::Tokenizer& tokenizer, const Settings& settings,
           const embed::BuiltinEmbedder* embedder, const IngestOptions& o, const Known& known,
           const IngestCallbacks& cb, IngestReport& report, vector::GraphBuilder* graph)
        : db_(db),
          graph_(graph),
          tokenizer_(tokenizer),
          vectors_(embedder != nullptr),
          o_(o),
          known_(known),
          cb_(cb),
          report_(report),
          cutter_(o, settings, tokenizer, embedder) {}

    // Writes one round, committing when the open transaction has grown enough.
    void write(std::vector<WorkResult>& results) {
        if (!o_.dry_run && !tx_) {
            tx_.emplace(db_);
            writer_.emplace(db_, tokenizer_, vectors_);
        }
        // Each id's last record in the round: an earlier one need not be written, as the later
        // one replaces it anyway. So a rerun over records with duplicate ids writes nothing,
        // unless a round ends between two of them.
        std::unordered_map<std::string_view, const Prepared*> last;
        for (const auto& r : results) {
            for (const auto& p : r.docs) last[p.rec.ext_id] = &p;
        }
        for (auto& r : results) {
            uncommitted_ += r.bytes;
            report_.failed += r.failed;
            report_.skipped += r.skipped;
            report_.bytes += static_cast<std::int64_t>(r.bytes);
            seen_sources_.insert(r.source);
            if (r.failed > 0) failed_sources_.insert(r.source);
            for (auto& n : r.notes) {
                if (cb_.note) cb_.note(n);
            }
            for (auto& p : r.docs) {
                write_one(p, last.at(p.rec.ext_id) != &p, writer_ ? &*writer_ : nullptr);
            }
        }
        if (uncommitted_ >= commit_bytes_) commit();
    }

    void commit() {
        if (writer_) writer_->finish();
        writer_.reset();
        if (tx_) {
            tx_->commit();
            if (graph_ != nullptr) graph_->committed();
        }
        tx_.reset();
        uncommitted_ = 0;
    }

    void mark_failed_source(const std::string& s) { failed_sources_.insert(s); }

    // Removes what --prune covers; returns the number of documents removed.
    void prune(const std::vector<fs::path>& roots) {
        commit();
        struct Victim {
            std::int64_t rowid;
            std::string id;
        };
        std::vector<Victim> victims;
        {
            auto st = db_.prepare("SELECT id, ext_id, source FROM documents WHERE source != ''");
            std::error_code ec;
            while (st.step()) {
                const std::string id = st.str(1), source = st.str(2);
                if (run_.contains(id)) continue;
                bool gone = false;
                if (seen_sources_.contains(source)) {
                    // Read in full this run, and the document was not in it any more.
                    gone = !failed_sources_.contains(source);
                } else {
                    const bool under =
                        std::any_of(roots.begin(), roots.end(), [&](const fs::path& r) {
                            const std::string rs = r.string();
                            return source == rs ||
                                   (source.starts_with(rs) && source.size() > rs.size() &&
                                    (source[rs.size()] == '/' || rs.ends_with('/')));
                        });
                    // Only a file that is not there is gone; one we may not read is kept.
                    gone =
                        under && fs::symlink_status(source, ec).type() == fs::file_type::not_found;
                }
                if (gone) victims.push_back({st.int64(0), id});
            }
        }
        std::optional<store::Transaction> tx;
        std::optional<store::DocumentWriter> writer;
        if (!o_.dry_run) {
            tx.emplace(db_);
            writer.emplace(db_, tokenizer_, vectors_);
        }
        for (const auto& v : victims) {
            if (writer) writer->remove(v.rowid);
            if (cb_.item) cb_.item("prune", v.id);
            ++report_.pruned;
        }
        if (writer) writer->finish();
        if (tx) tx->commit();
    }

  private:
    enum class Action { none, add, update, unchanged };

    // An id this run has met.
    struct RunDocument {
        std::string where;                  // where its last record was read
        std::int64_t rowid = 0;             // its row, when it has one
        std::optional<std::string> stored;  // the hash of what its row holds (or would, dry)
        Action counted = Action::none;      // how the report counts it
        std::int64_t chunks = 0;            // its part of the report's chunks
    };

    // `superseded`: a later record in this round has the same id.
    void write_one(Prepared& p, bool superseded, store::DocumentWriter* writer) {
        const std::string& id = p.rec.ext_id;
        const auto before = known_.find(id);
        auto [at, first] = run_.try_emplace(id);
        RunDocument& d = at->second;
        if (first) {
            if (before != known_.end()) {
                d.rowid = before->second.rowid;
                d.stored = before->second.hash;
            }
        } else {
            if (cb_.note) {
                cb_.note({IngestNote::Level::warning, p.where,
                          fmt::format("duplicate id '{}' (also at {}); the later record "
                                      "replaces it",
                                      id, d.where)});
            }
            tally(d.counted, d.chunks, -1);
            d.counted = Action::none;
            d.chunks = 0;
        }
        d.where = p.where;
        if (superseded) return;
        const Action action = before == known_.end()              ? Action::add
                              : before->second.hash == p.rec.hash ? Action::unchanged
                                                                  : Action::update;
        if (action != Action::unchanged) d.chunks = static_cast<std::int64_t>(p.rec.chunks.size());
        if (d.stored != p.rec.hash) {
            if (writer != nullptr) {
                // Unchanged since before the run, so not cut by the worker, but an earlier
                // record with its id has replaced it in this run.
                if (!p.cut) cutter_.cut(p, p.segments ? &*p.segments : nullptr);
                if (d.stored) {
                    writer->replace(d.rowid, p.rec);
                } else {
                    d.rowid = writer->insert(p.rec);
                }
            }
            d.stored = p.rec.hash;
        }
        d.counted = action;
        tally(action, d.chunks, 1);
        if (cb_.item) cb_.item(name(action), id);
    }

    void tally(Action a, std::int64_t chunks, std::int64_t n) {
        switch (a) {
            case Action::none:
                return;
            case Action::add:
                report_.added += n;
                break;
            case Action::update:
                report_.updated += n;
                break;
            case Action::unchanged:
                report_.unchanged += n;
                break;
        }
        report_.chunks += n * chunks;
    }

    static std::string_view name(Action a) {
        switch (a) {
            case Action::add:
                return "add";
            case Action::update:
                return "update";
            case Action::unchanged:
                return "unchanged";
            case Action::none:
                break;
        }
        return "none";
    }

    store::Database& db_;
    vector::GraphBuilder* graph_;  // told of each commit, when the index has vectors
    text::Tokenizer& tokenizer_;   // the writing thread's own
    bool vectors_;
    const IngestOptions& o_;
    const Known& known_;
    const IngestCallbacks& cb_;
    IngestReport& report_;
    std::unordered_map<std::string, RunDocument> run_;
    std::unordered_set<std::string> seen_sources_, failed_sources_;
    std::optional<store::Transaction> tx_;
    std::optional<store::DocumentWriter> writer_;
    std::size_t uncommitted_ = 0;
    std::size_t commit_bytes_ = commit_bytes();
    Cutter cutter_;  // the writing thread's own
};

}  // namespace

IngestReport ingest(Index& index, const IngestOptions& options, const IngestCallbacks& cb) {
    if (index.mode() != Index::Mode::write) {
        throw IndexError("index is open read-only", index.dir().string());
    }
    if (options.encoding) {
        try {
            (void)text::decode("", *options.encoding);
        } catch (const InputError& e) {
            throw UsageError(fmt::format("--encoding: {}", e.what()));
        }
    }
    const auto t0 = std::chrono::steady_clock::now();
    IngestReport report;
    auto& db = *index.impl().db;

    const inputs::Walk walk = inputs::walk(options, index.dir(), cb.note, report.failed);
    const Known known = store::load_known(db);

    IngestProgress progress;
    for (const auto& f : walk.files) progress.bytes_total += static_cast<std::int64_t>(f.size);
    if (options.stdin_data)
        progress.bytes_total += static_cast<std::int64_t>(options.stdin_data->size());

    unsigned jobs = options.jobs != 0 ? options.jobs : std::thread::hardware_concurrency();
    jobs = std::clamp(jobs, 1U, 256U);
    const embed::BuiltinEmbedder* embedder =
        index.impl().has_vectors() ? &index.impl().embedder() : nullptr;
    std::vector<Preparer> preparers;
    preparers.reserve(jobs);
    const std::string tokenizer =
        store::fts_tokenize_arg(index.settings().tokenizer, index.settings().split_words);
    for (unsigned i = 0; i < jobs; ++i) {
        preparers.emplace_back(options, index.settings(), known,
                               text::Tokenizer(db.handle(), tokenizer), embedder);
    }

    text::Tokenizer writer_tokenizer(db.handle(), tokenizer);
    // The graph takes the committed vectors in the background while the text goes in.
    std::optional<vector::GraphBuilder> graph;
    if (embedder != nullptr && !options.dry_run) {
        graph.emplace(db.file(), index.dir() / "vectors.hnsw",
                      static_cast<std::size_t>(embedder->dimension()), vector::GraphParams{});
    }
    Writer writer(db, writer_tokenizer, index.settings(), embedder, options, known, cb, report,
                  graph ? &*graph : nullptr);
    RoundMaker rounds(walk.files, options);
    auto fail = [&](const IngestNote& n) {
        ++report.failed;
        writer.mark_failed_source(n.where);
        if (cb.note) cb.note(n);
    };

    // Workers prepare round r+1 while this thread writes round r.
    auto start = [&](std::vector<WorkItem>&& items) {
        return std::async(std::launch::async, process, std::move(items), std::ref(preparers));
    };
    std::future<std::vector<WorkResult>> pending;
    if (auto first = rounds.next(fail); !first.empty()) pending = start(std::move(first));
    while (pending.valid()) {
        auto following = rounds.next(fail);
        auto results = pending.get();
        if (!following.empty()) pending = start(std::move(following));
        writer.write(results);
        progress.bytes_done = report.bytes;
        progress.documents = report.added + report.updated + report.unchanged;
        if (cb.progress) cb.progress(progress);
    }
    writer.commit();
    if (options.prune) writer.prune(walk.roots);
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

}  // namespace rk
