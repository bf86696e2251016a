// Getting documents in: sources -> readers -> chunks -> rk.db, incrementally by content hash.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rk/index.hpp"

namespace rk {

struct IngestOptions {
    // Files, directories (walked when `recursive`), glob patterns, or "-" for standard input.
    std::vector<std::string> paths;
    // What "-" reads: plain text, or JSONL when its first non-blank character is '{'.
    std::optional<std::string> stdin_data;
    bool recursive = false;
    bool hidden = false;  // walk into hidden files and directories (.git never)
    // Walks skip what .gitignore, .git/info/exclude, the global git excludes file, .ignore and
    // .rkignore files ignore (see rk-ingest(1)); files named outright are never skipped.
    bool ignore_rules = true;
    std::vector<std::string> include, exclude;  // globs; '/' in a pattern matches the path
    // The text encoding of files without a byte order mark (an iconv name: "latin1",
    // "SHIFT_JIS"); unset, UTF-8, or a legacy encoding detected when the bytes are not UTF-8.
    // JSONL files and standard input are always UTF-8.
    std::optional<std::string> encoding;
    std::string collection = "default";
    std::vector<std::pair<std::string, std::string>> meta;
    // JSON and JSONL record fields.
    std::string id_field = "_id", title_field = "title", text_field = "text";
    bool dry_run = false;
    bool prune = false;  // drop documents whose source files are gone or no longer hold them
    unsigned jobs = 0;   // worker threads; 0 means one per core
};

struct IngestReport {
    // Each document counts once, by what the whole run did to it, also when the run met its
    // id more than once (the later record replaces the earlier): added when the index did not
    // hold it before, else updated or unchanged.
    std::int64_t added = 0, updated = 0, unchanged = 0, skipped = 0, failed = 0, pruned = 0;
    std::int64_t chunks = 0;  // the chunks of the added and updated documents
    // Chunks of updated documents that kept their stored vector, as their text is unchanged
    // (with a model or a service, which are not asked again for them).
    std::int64_t vectors_reused = 0;
    std::int64_t bytes = 0;  // input bytes read
    double seconds = 0;
};

struct IngestProgress {
    std::int64_t bytes_done = 0, bytes_total = 0, documents = 0;
};

// Something worth telling the user about one input: where ("path:line") and what. `detail`
// is for those who asked for it (a path an ignore rule skipped, say).
struct IngestNote {
    enum class Level { detail, info, warning, error };
    Level level = Level::warning;
    std::string where, what;
};

struct IngestCallbacks {
    std::function<void(const IngestProgress&)> progress;
    std::function<void(const IngestNote&)> note;
    // Each document's fate: "add", "update", "unchanged", "prune" (used by --dry-run listings).
    // Called again for a document whose id comes again in a later round of the input (up to
    // a megabyte each), with what the later record does.
    std::function<void(std::string_view action, std::string_view id)> item;
};

// Ingests into an index opened for writing. Problems with single inputs are reported through
// `callbacks.note` and counted in the report; the rest goes on.
IngestReport ingest(Index& index, const IngestOptions& options,
                    const IngestCallbacks& callbacks = {});

}  // namespace rk
