// Export and import (rk-export(1), rk-import(1)): an index's documents as JSONL, with their
// chunks and stored vectors when asked for, and such an export read back into any index.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <optional>
#include <string>
#include <string_view>

#include "rk/index.hpp"
#include "rk/ingest.hpp"

namespace rk {

// The version of the export's form that this rk writes and reads (the header's "rk_export").
inline constexpr int kExportFormat = 1;

struct ExportOptions {
    std::optional<std::string> collection;  // only this collection's documents
    bool chunks = false;   // each document's chunks: heading path, byte range, token count
    bool vectors = false;  // each chunk's stored vector, base64; implies `chunks`
};

struct ExportReport {
    std::int64_t documents = 0, chunks = 0, vectors = 0;
    std::int64_t bytes = 0;  // written
};

// Writes an export of `index` through `write`, in pieces of about 1 MiB: a header line (the
// format, rk's version, the time, the index's settings), one line per document in the order
// the documents were first added, and a last line with their count. Reads one snapshot of the
// index a document at a time, so memory is bounded by the largest document, not by the
// index. Throws what `write` throws, and IndexError when the index cannot be read.
ExportReport export_jsonl(const Index& index, const ExportOptions& options,
                          const std::function<void(std::string_view)>& write);

// What an export's first line says.
struct ExportHeader {
    int format = 0;          // kExportFormat or older
    std::string rk_version;  // of the rk that wrote it
    std::string exported;    // when, ISO 8601 UTC
    int schema = 0;          // the index's schema version, which fixes how vectors are stored
    Settings settings;       // of the index it was made from
    int dimension = 0;       // of its vectors (0 without, or unsaid)
    std::optional<std::string> collection;
    bool chunks = false, vectors = false;
    std::int64_t bytes = 0;  // the line's length with its newline: where the records start
};

// Reads the first line of `in`; `display` names the input in errors. Throws InputError
// ("DISPLAY:1") when there is none, it is not an rk export's header, or its format is newer
// than kExportFormat.
ExportHeader read_export_header(std::istream& in, const std::string& display);

struct ImportOptions {
    std::string display = "<stdin>";  // how notes and errors name the input
    std::int64_t size = 0;            // the input's size in bytes if known (for progress)
    unsigned jobs = 0;                // worker threads; 0 means one per core
};

struct ImportReport {
    IngestReport documents;  // added, updated, unchanged, chunks, bytes read, seconds
    // Chunks taken from the export as they were (not cut again), and vectors taken from it
    // or embedded here.
    std::int64_t chunks_kept = 0, vectors_kept = 0, vectors_embedded = 0;
};

// Reads the records that follow `header` in `in` into `index` (open for writing) through the
// ingest path, in its transactions: a document whose id the index holds with the same content
// is left alone, so a second run goes on where a first one stopped. The index's settings
// decide: the export's chunks are kept when it has them, the document is as exported and the
// index cuts chunks of the same size and overlap; their vectors too when the index's embedder
// is the export's; anything else is computed again. Throws InputError naming the line
// ("DISPLAY:N") and the byte it starts at when a record is invalid or the input ends before
// the export's last line; the documents before it stay imported.
ImportReport import_jsonl(Index& index, std::istream& in, const ExportHeader& header,
                          const ImportOptions& options, const IngestCallbacks& callbacks = {});

}  // namespace rk
