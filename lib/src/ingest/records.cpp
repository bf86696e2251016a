#include "ingest/records.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include "rk/error.hpp"
#include "rk/json.hpp"

namespace rk::inputs {

struct RecordParser::Impl {
    simdjson::dom::parser parser;
};

RecordParser::RecordParser() : impl_(std::make_unique<Impl>()) {}
RecordParser::RecordParser(RecordParser&&) noexcept = default;
RecordParser& RecordParser::operator=(RecordParser&&) noexcept = default;
RecordParser::~RecordParser() = default;

namespace {

// The text of a scalar field: strings as they are, numbers and booleans spelled out.
std::string scalar_text(const simdjson::dom::element& v, std::string_view name, bool is_id) {
    switch (v.type()) {
        case simdjson::dom::element_type::STRING:
            return std::string(std::string_view(v));
        case simdjson::dom::element_type::INT64:
            return std::to_string(int64_t(v));
        case simdjson::dom::element_type::UINT64:
            return std::to_string(uint64_t(v));
        case simdjson::dom::element_type::NULL_VALUE:
            return {};
        case simdjson::dom::element_type::DOUBLE:
            if (!is_id) return fmt::format("{}", double(v));
            break;
        case simdjson::dom::element_type::BOOL:
            if (!is_id) return bool(v) ? "true" : "false";
            break;
        default:
            break;
    }
    throw InputError(
        fmt::format("field '{}' must be {}", name,
                    is_id ? "a string or an integer" : "a string, a number, a boolean or null"));
}

Record to_record(const simdjson::dom::element& el, const RecordFields& fields,
                 const std::vector<std::pair<std::string, std::string>>& extra_meta) {
    simdjson::dom::object obj;
    if (el.get_object().get(obj) != simdjson::SUCCESS) {
        throw InputError("record is not a JSON object");
    }
    Record r;
    JsonWriter meta;
    meta.begin_object();
    for (const auto field : obj) {
        const std::string_view key = field.key;
        if (key == fields.id) {
            r.id = scalar_text(field.value, key, true);
            r.blank_id = r.id.find_first_not_of(" \t\r\n\f\v") == std::string::npos;
            if (r.blank_id) r.id.clear();
        } else if (key == fields.title) {
            r.title = scalar_text(field.value, key, false);
        } else if (key == fields.text) {
            r.text = scalar_text(field.value, key, false);
        } else {
            bool overridden = false;
            for (const auto& [k, v] : extra_meta) overridden = overridden || k == key;
            if (!overridden) meta.key(key).raw(simdjson::minify(field.value));
        }
    }
    for (const auto& [k, v] : extra_meta) meta.key(k).value(v);
    meta.end_object();
    r.meta = meta.take();
    return r;
}

std::string parse_error(simdjson::error_code e) {
    return fmt::format("invalid JSON: {}", simdjson::error_message(e));
}

}  // namespace

Record RecordParser::parse_object(std::string_view json, const RecordFields& fields,
                                  const std::vector<std::pair<std::string, std::string>>& extra) {
    simdjson::dom::element el;
    if (auto e = impl_->parser.parse(json.data(), json.size(), true).get(el)) {
        throw InputError(parse_error(e));
    }
    return to_record(el, fields, extra);
}

void RecordParser::parse_document(std::string_view json, const RecordFields& fields,
                                  const std::vector<std::pair<std::string, std::string>>& extra,
                                  const std::function<void(std::size_t, Record&&)>& each,
                                  const std::function<void(std::size_t, const char*)>& bad) {
    simdjson::dom::element el;
    if (auto e = impl_->parser.parse(json.data(), json.size(), true).get(el)) {
        throw InputError(parse_error(e));
    }
    if (el.type() == simdjson::dom::element_type::ARRAY) {
        std::size_t n = 0;
        for (const auto item : simdjson::dom::array(el)) {
            ++n;
            std::optional<Record> r;
            try {
                r = to_record(item, fields, extra);
            } catch (const InputError& e) {
                bad(n, e.what());
                continue;
            }
            each(n, std::move(*r));
        }
        return;
    }
    each(1, to_record(el, fields, extra));
}

}  // namespace rk::inputs
