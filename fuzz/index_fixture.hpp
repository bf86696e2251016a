// A small index, made once per process in a temporary directory, for the targets whose
// parsers hand their results to a search (the MCP and HTTP front ends): a fuzzed request
// then runs all the way, filters, globs and lookups included.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

#include "rk/index.hpp"
#include "rk/ingest.hpp"

namespace rk::fuzz {

class IndexFixture {
  public:
    IndexFixture()
        : dir_(std::filesystem::temp_directory_path() /
               ("rk-fuzz-index-" + std::to_string(::getpid()))) {
        std::filesystem::remove_all(dir_);
        Index index = Index::create(dir_, Settings{});
        IngestOptions o;
        o.paths = {"-"};
        o.stdin_data =
            "{\"_id\": \"notes/retry.md\", \"title\": \"Retry\", \"text\": \"Retry with "
            "exponential backoff and jitter.\\n\\nWait longer each time.\", \"lang\": \"en\"}\n"
            "{\"_id\": \"My Notes/caf\\u00e9\", \"title\": \"Caf\\u00e9\", \"text\": \"parseConfig "
            "reads the configuration file; \\u65e5\\u672c\\u8a9e text too.\", \"lang\": \"fr\"}\n";
        o.collection = "notes";
        o.jobs = 1;
        (void)ingest(index, o);
    }
    ~IndexFixture() {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    IndexFixture(const IndexFixture&) = delete;
    IndexFixture& operator=(const IndexFixture&) = delete;

    [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }

  private:
    std::filesystem::path dir_;
};

}  // namespace rk::fuzz
