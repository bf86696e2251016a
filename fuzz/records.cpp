// JSON and JSONL records (simdjson, then rk's picking of id, title, text and metadata): a
// JSONL line and a whole .json file.
#include "ingest/records.hpp"

#include <string>
#include <utility>
#include <vector>

#include "rk/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static rk::inputs::RecordParser parser;
    static const rk::inputs::RecordFields fields;
    static const std::vector<std::pair<std::string, std::string>> meta = {{"source", "fuzz"}};
    const std::string json(reinterpret_cast<const char*>(data), size);
    try {
        (void)parser.parse_object(json, fields, meta);
    } catch (const rk::InputError&) {
    }
    try {
        parser.parse_document(
            json, fields, meta, [](std::size_t, rk::inputs::Record&&) {},
            [](std::size_t, const char*) {});
    } catch (const rk::InputError&) {
    }
    return 0;
}
