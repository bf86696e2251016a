// JSON and JSONL records: one document each, with configurable id, title and text fields.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rk::inputs {

struct RecordFields {
    std::string id = "_id", title = "title", text = "text";
};

struct Record {
    std::string id;  // empty when the record has none
    // The id field was there but null, empty or only whitespace: then `id` is empty too, and
    // the record is named by its content as one without an id, but the user hears of it.
    bool blank_id = false;
    std::string title, text;
    std::string meta;  // the record's other fields and the user's --meta, as a JSON object
};

// A parser with its reusable buffers; one per thread.
class RecordParser {
  public:
    RecordParser();
    RecordParser(RecordParser&&) noexcept;
    RecordParser& operator=(RecordParser&&) noexcept;
    ~RecordParser();

    // Parses one JSON object. Throws InputError (without a place) when it is not valid JSON,
    // not an object, or a field has the wrong type.
    Record parse_object(std::string_view json, const RecordFields& fields,
                        const std::vector<std::pair<std::string, std::string>>& extra_meta);
    // Parses a .json file: an array of objects, or one object. Calls `each` per record with
    // its position (1-based), or `bad` with the position and what is wrong with it; the other
    // elements go on. Throws InputError when the whole file is not valid JSON.
    void parse_document(std::string_view json, const RecordFields& fields,
                        const std::vector<std::pair<std::string, std::string>>& extra_meta,
                        const std::function<void(std::size_t, Record&&)>& each,
                        const std::function<void(std::size_t, const char*)>& bad);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace rk::inputs
