// Turning the user's PATH arguments into the list of files to read.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "rk/ingest.hpp"

namespace rk::inputs {

struct SourceFile {
    std::filesystem::path path;  // absolute, lexically normal
    std::uintmax_t size = 0;
};

struct Walk {
    std::vector<SourceFile> files;  // sorted, without duplicates
    bool has_stdin = false;
    std::vector<std::filesystem::path> roots;  // directories and files named, for --prune
};

// Expands files, directories (with `recursive`) and glob patterns. Hidden entries, `.git`,
// `.rk`, the index directory itself and (unless !ignore_rules) what ignore rules ignore (see
// ignore.hpp) are skipped; --include/--exclude and ignore rules apply to walked files, not to
// files named outright. A missing path is reported through `note` as an error
// and counted in `failed`; a directory without `recursive` is a UsageError.
Walk walk(const IngestOptions& options, const std::filesystem::path& index_dir,
          const std::function<void(const IngestNote&)>& note, std::int64_t& failed);

}  // namespace rk::inputs
