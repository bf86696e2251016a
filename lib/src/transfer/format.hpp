// The form of an export (rk-export(1)), shared by the exporter and the importer's workers:
// a header line, one line per document, and a last line with their count.
//
// Strings are JSON strings when they are valid UTF-8. JSON cannot hold other bytes, so a
// string that is not valid UTF-8 (a file name in Latin-1, say) is written under its key with
// "_b64" appended, as the base64 of its bytes: "id_b64" instead of "id". Either form reads
// back as the same bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rk/json.hpp"
#include "rk/transfer.hpp"
#include "store/documents.hpp"

namespace rk::transfer {

// Standard base64 (RFC 4648) with padding.
std::string base64(std::string_view bytes);
// The bytes of `text`, or nullopt when it is not base64 as base64() writes it.
std::optional<std::string> unbase64(std::string_view text);

// Writes `value` under `key`, or under key + "_b64" as base64 when it is not valid UTF-8.
void put_string(JsonWriter& w, std::string_view key, std::string_view value);

// The header line (without its newline) for an export of `settings`, made at `exported`
// (ISO 8601 UTC), with what the options ask for.
std::string header_line(const Settings& settings, int dimension, std::string_view exported,
                        const ExportOptions& options);
// Parses a header line. Throws InputError (without a place).
ExportHeader parse_header(std::string_view line);

// The last line (without its newline): the number of document records before it.
std::string end_line(std::int64_t documents);

// One line of an export after its header, parsed.
struct Line {
    enum class Kind { document, end };
    Kind kind = Kind::document;
    // A document: every field but the hash, which the importer computes again from them.
    store::DocumentRecord doc;
    std::optional<std::string> hash;  // the hash the export gives, if any
    // Whether the record lists its chunks (then `doc.chunks` holds them, with their stored
    // vectors in `vector.encoded` when the export has them; see take_chunks()).
    bool has_chunks = false;
    std::int64_t documents = 0;  // the end line's count
};

// Checks that the chunks of a record hold byte ranges within its text on character
// boundaries, and gives each its text. Throws InputError (without a place) otherwise. Only
// for a record as exported: the ranges are of the text they were cut from.
void take_chunks(store::DocumentRecord& doc);

// Parses the lines after an export's header; one per thread, reusing its buffers.
class LineParser {
  public:
    LineParser();
    LineParser(LineParser&&) noexcept;
    LineParser& operator=(LineParser&&) noexcept;
    ~LineParser();

    // Parses one line (its capacity may grow: the JSON parser needs padding after the text).
    // Throws InputError (without a place) when it is not valid JSON, or has a field that is
    // unknown, missing or of the wrong type.
    Line parse(std::string& line);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace rk::transfer
