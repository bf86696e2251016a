// rk::export_jsonl(): the documents table read with one cursor, in one snapshot, each document
// written as one line (see format.hpp) and the lines passed on in pieces of about 1 MiB.

#include <fmt/format.h>

#include <chrono>
#include <ctime>

#include "rk/error.hpp"
#include "rk/json.hpp"
#include "rk/transfer.hpp"
#include "store/index_impl.hpp"
#include "store/sqlite.hpp"
#include "transfer/format.hpp"

namespace rk {

namespace {

constexpr std::size_t kPieceBytes = std::size_t{1} << 20;

std::string utc_now() {
    const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return {buf, n};
}

// An export reads every page of the index once, in order: queries' memory map gains it nothing,
// and the mapped pages it touched would count in its resident memory, which would then grow
// with the index. So it reads through SQLite's page cache, kept small, and puts both back.
class SequentialReads {
  public:
    explicit SequentialReads(store::Database& db)
        : db_(db),
          mmap_(db.query_int("PRAGMA mmap_size").value_or(0)),
          cache_(db.query_int("PRAGMA cache_size").value_or(-2000)) {
        db_.exec("PRAGMA mmap_size = 0");
        db_.exec("PRAGMA cache_size = -8192");
    }
    ~SequentialReads() {
        try {
            db_.exec(fmt::format("PRAGMA mmap_size = {}", mmap_));
            db_.exec(fmt::format("PRAGMA cache_size = {}", cache_));
        } catch (const Error&) {
            // Only speed is at stake, and the export is done.
        }
    }
    SequentialReads(const SequentialReads&) = delete;
    SequentialReads& operator=(const SequentialReads&) = delete;

  private:
    store::Database& db_;
    std::int64_t mmap_, cache_;
};

}  // namespace

ExportReport export_jsonl(const Index& index, const ExportOptions& options,
                          const std::function<void(std::string_view)>& write) {
    const auto& impl = index.impl();
    auto& db = *impl.db;
    const SequentialReads sequential(db);
    // Every read below sees the same state of the index, whatever a writer does meanwhile.
    const store::ReadTransaction snapshot(db);
    // What the lines hold, as the header says: an index without vectors has none to give.
    ExportOptions holds = options;
    holds.chunks = options.chunks || options.vectors;
    holds.vectors = options.vectors && impl.has_vectors();
    const bool chunks = holds.chunks, vectors = holds.vectors;

    ExportReport report;
    std::string piece;
    auto pass_on = [&] {
        write(piece);
        report.bytes += static_cast<std::int64_t>(piece.size());
        piece.clear();
    };
    piece += transfer::header_line(impl.settings, impl.has_vectors() ? impl.dimension() : 0,
                                   utc_now(), holds);
    piece += '\n';

    // By rowid, the order in which documents were first added (an import adds them in this
    // order, so its export lists them alike). With a collection, its index yields the rows
    // in rowid order too, so nothing is sorted and the cursor streams.
    constexpr const char* kColumns =
        "SELECT id, ext_id, collection, source, title, meta, hash, updated, body FROM documents";
    auto docs = db.prepare(options.collection
                               ? fmt::format("{} WHERE collection = ?1 ORDER BY id", kColumns)
                               : fmt::format("{} ORDER BY id", kColumns));
    if (options.collection) docs.bind(1, *options.collection);
    auto chunk_rows = db.prepare(
        vectors ? "SELECT c.heading, c.start, c.end, c.tokens, v.data FROM chunks c "
                  "LEFT JOIN vectors v ON v.chunk = c.id WHERE c.doc = ?1 ORDER BY c.seq"
                : "SELECT heading, start, end, tokens FROM chunks WHERE doc = ?1 ORDER BY seq");

    while (docs.step()) {
        JsonWriter w;
        w.begin_object();
        transfer::put_string(w, "id", docs.text(1));
        transfer::put_string(w, "collection", docs.text(2));
        transfer::put_string(w, "source", docs.text(3));
        transfer::put_string(w, "title", docs.text(4));
        const std::string_view meta = docs.text(5);
        w.key("meta").raw(meta.empty() ? "{}" : meta);
        w.key("hash").value(docs.text(6)).key("updated").value(docs.int64(7));
        transfer::put_string(w, "text", docs.text(8));
        if (chunks) {
            w.key("chunks").begin_array();
            chunk_rows.bind(1, docs.int64(0));
            while (chunk_rows.step()) {
                w.begin_object();
                transfer::put_string(w, "heading", chunk_rows.text(0));
                w.key("start")
                    .value(chunk_rows.int64(1))
                    .key("end")
                    .value(chunk_rows.int64(2))
                    .key("tokens")
                    .value(chunk_rows.int64(3));
                if (vectors && !chunk_rows.is_null(4)) {
                    w.key("vector").value(transfer::base64(chunk_rows.blob(4)));
                    ++report.vectors;
                }
                w.end_object();
                ++report.chunks;
            }
            chunk_rows.reset();
            w.end_array();
        }
        w.end_object();
        piece += w.str();
        piece += '\n';
        ++report.documents;
        if (piece.size() >= kPieceBytes) pass_on();
    }
    piece += transfer::end_line(report.documents);
    piece += '\n';
    pass_on();
    return report;
}

}  // namespace rk
