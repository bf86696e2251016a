// rk::read_export_header() and rk::import_jsonl(): an export read back through the ingest
// path (ingest/pipeline.hpp), which parses its lines in the workers (Preparer::exported()).

#include <fmt/format.h>

#include "ingest/pipeline.hpp"
#include "rk/error.hpp"
#include "rk/transfer.hpp"
#include "store/index_impl.hpp"
#include "store/schema.hpp"
#include "transfer/format.hpp"
#include "vector/embedding.hpp"

namespace rk {

namespace {

// A header is a few hundred bytes; a first line longer than this is no header, and is not
// read whole.
constexpr std::size_t kMaxHeaderBytes = std::size_t{1} << 20;

}  // namespace

ExportHeader read_export_header(std::istream& in, const std::string& display) {
    const std::string where = fmt::format("{}:1", display);
    std::string line;
    bool newline = false;
    std::streambuf* buf = in.rdbuf();
    while (line.size() < kMaxHeaderBytes) {
        const auto c = buf->sbumpc();
        if (c == std::char_traits<char>::eof()) break;
        if (c == '\n') {
            newline = true;
            break;
        }
        line.push_back(static_cast<char>(c));
    }
    if (!newline && line.empty()) throw InputError("empty input: not an rk export", where);
    if (!newline && line.size() >= kMaxHeaderBytes) {
        throw InputError("not an rk export: its first line is no header", where);
    }
    const auto bytes = static_cast<std::int64_t>(line.size() + (newline ? 1 : 0));
    if (line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    ExportHeader h;
    try {
        h = transfer::parse_header(line);
    } catch (const InputError& e) {
        throw InputError(e.what(), where);
    }
    h.bytes = bytes;
    return h;
}

ImportReport import_jsonl(Index& index, std::istream& in, const ExportHeader& header,
                          const ImportOptions& options, const IngestCallbacks& callbacks) {
    const Settings& here = index.settings();
    const Settings& there = header.settings;
    pipeline::ImportInput input;
    input.in = &in;
    input.display = options.display;
    input.size = options.size;
    input.offset = static_cast<std::uint64_t>(header.bytes);
    // Chunks are byte ranges cut by size and overlap in words, whatever the tokenizer.
    input.keep_chunks = header.chunks && here.chunk_size == there.chunk_size &&
                        here.chunk_overlap == there.chunk_overlap;
    // Vectors are the embedder's, of its chunk's text, in the form of this schema version.
    input.keep_vectors = input.keep_chunks && header.vectors && index.impl().has_vectors() &&
                         here.embedder == there.embedder &&
                         header.dimension == index.impl().dimension() &&
                         header.schema == store::kSchemaVersion;
    if (index.impl().has_vectors()) {
        input.vector_bytes = index.impl().layout().stored_size;
    }
    auto note = [&](std::string what) {
        if (callbacks.note) {
            callbacks.note({IngestNote::Level::info, options.display, std::move(what)});
        }
    };
    if (header.chunks && !input.keep_chunks) {
        note(fmt::format(
            "the export's chunks are of {} tokens overlapping by {}, the index's of "
            "{} by {}: documents are cut again",
            there.chunk_size, there.chunk_overlap, here.chunk_size, here.chunk_overlap));
    }
    if (header.vectors && input.keep_chunks && !input.keep_vectors && index.impl().has_vectors()) {
        note(here.embedder != there.embedder
                 ? fmt::format("the export's vectors are of embedder '{}', the index's is "
                               "'{}': vectors are computed again",
                               there.embedder, here.embedder)
                 : fmt::format("the export's vectors are stored as schema version {} has "
                               "them, this rk's are of version {}: vectors are computed again",
                               header.schema, store::kSchemaVersion));
    }

    IngestOptions o;
    o.jobs = options.jobs;
    ImportReport report;
    report.documents = pipeline::run(index, o, callbacks, &input);
    report.chunks_kept = input.chunks_kept;
    report.vectors_kept = input.vectors_kept;
    report.vectors_embedded = input.vectors_embedded;
    if (input.stop) {
        throw InputError(fmt::format("{}; the documents before it are imported, and rk import "
                                     "skips them when run again",
                                     input.stop->what),
                         input.stop->where);
    }
    return report;
}

}  // namespace rk
