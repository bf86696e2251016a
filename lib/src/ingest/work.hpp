// The work that passes between the stages of rk::ingest() (pipeline.cpp): the round maker
// cuts the input into work items, worker threads turn each into a result (preparer.cpp), and
// the calling thread writes the results round by round (writer.cpp). Here are what more than
// one stage sees and the sizes that pace them; each stage's own state stays in its file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ingest/readers.hpp"
#include "rk/ingest.hpp"
#include "store/documents.hpp"

namespace rk::pipeline {

// What the index held before this run, by document id. Loaded once before any work and only
// read after, so that the workers (which need not cut what is unchanged) and the writer (which
// counts each document as added, updated or unchanged) share it without a lock.
using Known = std::unordered_map<std::string, store::KnownDocument>;

// A round holds about this much input, so that progress moves, memory stays bounded and the
// workers prepare the next round while this thread writes one.
constexpr std::size_t kRoundBytes = std::size_t{1} << 20;
constexpr std::size_t kRoundItems = 64;
// A transaction spans rounds up to about this much input: fewer, larger commits (and posting
// segments) are cheaper, and a killed ingest loses at most this much work.
constexpr std::size_t kCommitBytes = std::size_t{16} << 20;
// JSONL (a file, or standard input) is cut into work items of at most this many lines or
// about this many bytes, so that its records are shared among the workers.
constexpr std::size_t kLinesPerItem = 256;
constexpr std::size_t kBytesPerItem = std::size_t{128} << 10;
// A compressed file that would decompress to more is refused (a "zip bomb" of a few MiB).
constexpr std::size_t kMaxDecompressed = std::size_t{1} << 30;

// An export being imported (rk import): the input after its header line, and what of the
// export the index may keep as it is (see rk::import_jsonl()).
struct ImportInput {
    std::istream* in = nullptr;
    std::string display;
    std::int64_t size = 0;     // the whole input's, when known
    std::uint64_t offset = 0;  // where the records start: the header line's length
    bool keep_chunks = false, keep_vectors = false;
    std::size_t vector_bytes = 0;  // a stored vector's size in the index

    // What the run did: chunks kept as the export has them, vectors kept or embedded, and
    // why it stopped early (a bad line, a read error, no last line), if it did.
    std::int64_t chunks_kept = 0, vectors_kept = 0, vectors_embedded = 0;
    std::optional<IngestNote> stop;
};

// One worker's task: a file read whole, lines of a JSONL file or of standard input, standard
// input's text, or lines of an export being imported. The round maker reads a JSONL file (and
// an export) itself, to cut it into items; a worker reads any other file.
struct WorkItem {
    enum class Kind { file, lines, stdin_text, exported };
    Kind kind = Kind::file;
    std::string display;  // how notes name the input
    std::string source;   // absolute path, or empty for standard input
    inputs::Format format = inputs::Format::document;
    std::string data;                                         // standard input's text
    std::vector<std::pair<std::int64_t, std::string>> lines;  // JSONL: (line number, line)
    std::vector<std::uint64_t> starts;  // an export's: the byte each line starts at
    bool cut_short = false;             // an export's: the input ends inside the last line
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

// What a worker made of one work item: its documents and notes, kept in the item's order and
// handed to the writer with the round, so that the writer meets them in input order.
struct WorkResult {
    std::vector<Prepared> docs;
    std::vector<IngestNote> notes;
    std::int64_t failed = 0, skipped = 0;
    std::uint64_t bytes = 0;
    std::string source;  // the input's source, so that --prune spares inputs that failed

    // An export's lines (rk import), which must all be right and end with the export's last
    // line: `stop` is the first bad one (those after it are not read), `end` the last line.
    struct End {
        std::int64_t documents = 0;  // the number it gives
        std::string where;
    };
    std::int64_t records = 0;  // document records read
    std::string first;         // where its first line is
    std::optional<IngestNote> stop;
    std::optional<End> end;
    std::int64_t chunks_kept = 0, vectors_kept = 0, vectors_embedded = 0;
};

}  // namespace rk::pipeline
