#include "transfer/format.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <array>
#include <initializer_list>

#include "rk/error.hpp"
#include "rk/version.hpp"
#include "store/schema.hpp"
#include "text/utf8.hpp"

namespace rk::transfer {

namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Each byte's value as a base64 digit, or -1.
constexpr std::array<int, 256> kDigits = [] {
    std::array<int, 256> d{};
    d.fill(-1);
    for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
        d[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int>(i);
    }
    return d;
}();

[[noreturn]] void bad(const std::string& what) {
    throw InputError(what);
}

void check(simdjson::error_code e) {
    if (e != simdjson::SUCCESS) bad(fmt::format("invalid JSON: {}", simdjson::error_message(e)));
}

// A field's name and whether it is the base64 form of a string ("id_b64" -> "id", true).
std::pair<std::string_view, bool> string_key(std::string_view key) {
    if (key.ends_with("_b64")) return {key.substr(0, key.size() - 4), true};
    return {key, false};
}

// Throws for a value of the wrong type (`type` says the right one), or for invalid JSON:
// what is no JSON value at all ("key": }) is of no type either.
template <typename Value>
void check_value(simdjson::error_code e, Value& v, std::string_view key, std::string_view type) {
    if (e == simdjson::INCORRECT_TYPE) {
        simdjson::ondemand::json_type t{};
        check(v.type().get(t));
        bad(fmt::format("field '{}' must be {}", key, type));
    }
    check(e);
}

// The value of a string field, in either form.
std::string read_string(simdjson::ondemand::value v, std::string_view key, bool b64) {
    std::string_view s;
    check_value(v.get_string().get(s), v, key, "a string");
    if (!b64) return std::string(s);
    auto bytes = unbase64(s);
    if (!bytes) bad(fmt::format("field '{}' is not base64", key));
    return std::move(*bytes);
}

std::int64_t read_int(simdjson::ondemand::value v, std::string_view key) {
    std::int64_t n = 0;
    check_value(v.get_int64().get(n), v, key, "an integer");
    return n;
}

// Remembers which fields a record had, so that one given twice (in either form) is refused.
class Seen {
  public:
    explicit Seen(std::initializer_list<std::string_view> names) : names_(names) {}
    // Returns the field's index in the list, or throws for an unknown or repeated one.
    std::size_t mark(std::string_view name, std::string_view context) {
        for (std::size_t i = 0; i < names_.size(); ++i) {
            if (names_[i] != name) continue;
            if ((seen_ & (1U << i)) != 0) bad(fmt::format("field '{}' is given twice", name));
            seen_ |= 1U << i;
            return i;
        }
        bad(fmt::format("unknown field '{}'{}", name, context));
    }
    [[nodiscard]] bool has(std::string_view name) const {
        for (std::size_t i = 0; i < names_.size(); ++i) {
            if (names_[i] == name) return (seen_ & (1U << i)) != 0;
        }
        return false;
    }

  private:
    std::vector<std::string_view> names_;
    unsigned seen_ = 0;
};

// Whether byte offset `at` of `s` starts a character (or is its end).
bool on_boundary(std::string_view s, std::int64_t at) {
    const auto i = static_cast<std::size_t>(at);
    return i == s.size() || (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80;
}

}  // namespace

std::string base64(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    auto at = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
    for (; i + 3 <= bytes.size(); i += 3) {
        const unsigned v = (at(i) << 16U) | (at(i + 1) << 8U) | at(i + 2);
        for (const unsigned shift : {18U, 12U, 6U, 0U})
            out.push_back(kAlphabet[(v >> shift) & 63U]);
    }
    if (const std::size_t left = bytes.size() - i; left > 0) {
        const unsigned v = (at(i) << 16U) | (left == 2 ? at(i + 1) << 8U : 0U);
        out.push_back(kAlphabet[(v >> 18U) & 63U]);
        out.push_back(kAlphabet[(v >> 12U) & 63U]);
        out.push_back(left == 2 ? kAlphabet[(v >> 6U) & 63U] : '=');
        out.push_back('=');
    }
    return out;
}

std::optional<std::string> unbase64(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        const bool last = i + 4 == text.size();
        int d[4];
        int pad = 0;
        for (int k = 0; k < 4; ++k) {
            const char c = text[i + static_cast<std::size_t>(k)];
            if (c == '=' && last && k >= 2) {
                d[k] = 0;
                ++pad;
                continue;
            }
            if (pad > 0) return std::nullopt;  // a digit after padding
            d[k] = kDigits[static_cast<unsigned char>(c)];
            if (d[k] < 0) return std::nullopt;
        }
        const auto v = static_cast<unsigned>((d[0] << 18) | (d[1] << 12) | (d[2] << 6) | d[3]);
        out.push_back(static_cast<char>((v >> 16U) & 0xFFU));
        if (pad < 2) out.push_back(static_cast<char>((v >> 8U) & 0xFFU));
        if (pad < 1) out.push_back(static_cast<char>(v & 0xFFU));
        // Bits that padding drops must be zero, so that each byte string has one spelling.
        if ((pad == 1 && (v & 0xFFU) != 0) || (pad == 2 && (v & 0xFFFFU) != 0)) {
            return std::nullopt;
        }
    }
    return out;
}

void put_string(JsonWriter& w, std::string_view key, std::string_view value) {
    if (text::utf8_first_invalid(value)) {
        w.key(fmt::format("{}_b64", key)).value(base64(value));
    } else {
        w.key(key).value(value);
    }
}

std::string header_line(const Settings& settings, int dimension, std::string_view exported,
                        const ExportOptions& holds) {
    JsonWriter w;
    w.begin_object()
        .key("rk_export")
        .value(kExportFormat)
        .key("rk")
        .value(version())
        .key("exported")
        .value(exported)
        .key("schema")
        .value(store::kSchemaVersion)
        .key("settings")
        .begin_object()
        .key("embedder")
        .value(settings.embedder)
        .key("dimension")
        .value(dimension)
        .key("tokenizer")
        .value(settings.tokenizer)
        .key("split_words")
        .value(settings.split_words)
        .key("chunk_size")
        .value(settings.chunk_size)
        .key("chunk_overlap")
        .value(settings.chunk_overlap)
        .end_object();
    if (holds.collection) {
        put_string(w, "collection", *holds.collection);
    } else {
        w.key("collection").null();
    }
    w.key("chunks").value(holds.chunks).key("vectors").value(holds.vectors);
    w.end_object();
    return w.take();
}

ExportHeader parse_header(std::string_view line) {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (parser.parse(line.data(), line.size(), true).get(root) != simdjson::SUCCESS ||
        !root.is_object()) {
        bad("not an rk export: its first line is not a JSON object");
    }
    const simdjson::dom::object obj(root);
    std::int64_t format = 0;
    if (obj["rk_export"].get_int64().get(format) != simdjson::SUCCESS) {
        bad("not an rk export: its first line has no \"rk_export\" format number");
    }
    if (format > kExportFormat) {
        bad(fmt::format(
            "the export is of format {}, newer than this rk reads ({}): upgrade rk to import it",
            format, kExportFormat));
    }
    if (format < 1) bad(fmt::format("\"rk_export\" is {}: not a format", format));
    ExportHeader h;
    h.format = static_cast<int>(format);
    auto text = [](simdjson::dom::element v, std::string_view key) {
        std::string_view s;
        if (v.get_string().get(s) != simdjson::SUCCESS) {
            bad(fmt::format("header field '{}' must be a string", key));
        }
        return std::string(s);
    };
    auto flag = [](simdjson::dom::element v, std::string_view key) {
        bool b = false;
        if (v.get_bool().get(b) != simdjson::SUCCESS) {
            bad(fmt::format("header field '{}' must be true or false", key));
        }
        return b;
    };
    auto number = [](simdjson::dom::element v, std::string_view key) {
        std::int64_t n = 0;
        if (v.get_int64().get(n) != simdjson::SUCCESS || n < 0 || n > 1'000'000'000) {
            bad(fmt::format("header field '{}' must be a count", key));
        }
        return static_cast<int>(n);
    };
    bool has_settings = false;
    for (const auto [key, value] : obj) {
        if (key == "rk_export") continue;
        if (key == "rk") {
            h.rk_version = text(value, key);
        } else if (key == "exported") {
            h.exported = text(value, key);
        } else if (key == "collection" || key == "collection_b64") {
            if (!value.is_null()) h.collection = text(value, key);
            if (key == "collection_b64" && h.collection) {
                auto bytes = unbase64(*h.collection);
                if (!bytes) bad("header field 'collection_b64' is not base64");
                h.collection = std::move(*bytes);
            }
        } else if (key == "schema") {
            h.schema = number(value, key);
        } else if (key == "chunks") {
            h.chunks = flag(value, key);
        } else if (key == "vectors") {
            h.vectors = flag(value, key);
        } else if (key == "settings" && value.is_object()) {
            has_settings = true;
            Seen seen{"embedder",    "dimension",  "tokenizer",
                      "split_words", "chunk_size", "chunk_overlap"};
            for (const auto [name, v] : simdjson::dom::object(value)) {
                seen.mark(name, " in the header's settings");
                if (name == "embedder") h.settings.embedder = text(v, name);
                if (name == "tokenizer") h.settings.tokenizer = text(v, name);
                if (name == "split_words") h.settings.split_words = flag(v, name);
                if (name == "chunk_size") h.settings.chunk_size = number(v, name);
                if (name == "chunk_overlap") h.settings.chunk_overlap = number(v, name);
                if (name == "dimension") h.dimension = number(v, name);
            }
            for (const char* name : {"embedder", "tokenizer", "chunk_size", "chunk_overlap"}) {
                if (!seen.has(name)) bad(fmt::format("the header's settings have no '{}'", name));
            }
        } else {
            bad(fmt::format("unknown header field '{}'", key));
        }
    }
    if (!has_settings) bad("the header has no settings object");
    return h;
}

std::string end_line(std::int64_t documents) {
    JsonWriter w;
    w.begin_object().key("rk_export_end").begin_object().key("documents").value(documents);
    w.end_object().end_object();
    return w.take();
}

struct LineParser::Impl {
    simdjson::ondemand::parser parser;
    simdjson::dom::parser meta_parser;  // checks a record's metadata, which is taken raw
    std::string minified;
};

LineParser::LineParser() : impl_(std::make_unique<Impl>()) {}
LineParser::LineParser(LineParser&&) noexcept = default;
LineParser& LineParser::operator=(LineParser&&) noexcept = default;
LineParser::~LineParser() = default;

namespace {

void read_chunks(simdjson::ondemand::value v, std::vector<store::ChunkRecord>& out) {
    simdjson::ondemand::array list;
    check_value(v.get_array().get(list), v, "chunks", "an array");
    for (auto item : list) {
        simdjson::ondemand::object obj;
        check(item.error());
        check_value(item.get_object().get(obj), item, fmt::format("chunks[{}]", out.size()),
                    "a JSON object");
        const std::string context = fmt::format(" of chunk {}", out.size());
        store::ChunkRecord c;
        Seen seen{"heading", "start", "end", "tokens", "vector"};
        for (auto field : obj) {
            std::string_view key;
            check(field.unescaped_key().get(key));
            const auto [name, b64] = string_key(key);
            seen.mark(b64 && name != "heading" ? key : name, context);
            simdjson::ondemand::value value;
            check(field.value().get(value));
            if (name == "heading") {
                c.heading = read_string(value, key, b64);
            } else if (name == "start") {
                c.start = read_int(value, key);
            } else if (name == "end") {
                c.end = read_int(value, key);
            } else if (name == "tokens") {
                c.tokens = read_int(value, key);
            } else {
                c.vector.encoded = read_string(value, key, true);
            }
        }
        for (const char* name : {"start", "end", "tokens"}) {
            if (!seen.has(name)) bad(fmt::format("chunk {} has no '{}'", out.size(), name));
        }
        out.push_back(std::move(c));
    }
}

}  // namespace

Line LineParser::parse(std::string& line) {
    line.reserve(line.size() + simdjson::SIMDJSON_PADDING);
    simdjson::ondemand::document doc;
    check(impl_->parser.iterate(line.data(), line.size(), line.capacity()).get(doc));
    simdjson::ondemand::object obj;
    if (const auto e = doc.get_object().get(obj); e != simdjson::SUCCESS) {
        if (e != simdjson::INCORRECT_TYPE) check(e);
        bad("a record must be a JSON object");
    }
    Line out;
    auto& d = out.doc;
    d.collection = "default";
    d.meta = "{}";
    Seen seen{"id",   "collection", "source", "title",  "meta",
              "hash", "updated",    "text",   "chunks", "rk_export_end"};
    for (auto field : obj) {
        std::string_view key;
        check(field.unescaped_key().get(key));
        const auto [name, b64] = string_key(key);
        const bool text_field = name == "id" || name == "collection" || name == "source" ||
                                name == "title" || name == "text";
        seen.mark(b64 && !text_field ? key : name, "");
        simdjson::ondemand::value value;
        check(field.value().get(value));
        if (name == "id") {
            d.ext_id = read_string(value, key, b64);
        } else if (name == "collection") {
            d.collection = read_string(value, key, b64);
        } else if (name == "source") {
            d.source = read_string(value, key, b64);
        } else if (name == "title") {
            d.title = read_string(value, key, b64);
        } else if (name == "text") {
            d.body = read_string(value, key, b64);
        } else if (name == "hash") {
            out.hash = read_string(value, key, false);
        } else if (name == "updated") {
            d.updated = read_int(value, key);
        } else if (name == "meta") {
            // Taken as written, less white space: what rk stores, byte for byte.
            simdjson::ondemand::object meta;
            std::string_view raw;
            check_value(value.get_object().get(meta), value, key, "a JSON object");
            check(meta.raw_json().get(raw));
            simdjson::dom::element checked;
            check(impl_->meta_parser.parse(raw.data(), raw.size(), true).get(checked));
            impl_->minified.resize(raw.size());
            std::size_t n = 0;
            check(simdjson::minify(raw.data(), raw.size(), impl_->minified.data(), n));
            d.meta.assign(impl_->minified.data(), n);
        } else if (name == "chunks") {
            out.has_chunks = true;
            read_chunks(value, d.chunks);
        } else {
            simdjson::ondemand::object end;
            check_value(value.get_object().get(end), value, key, "a JSON object");
            bool counted = false;
            for (auto f : end) {
                std::string_view k;
                check(f.unescaped_key().get(k));
                if (k != "documents" || counted) {
                    bad(fmt::format("unknown or repeated field '{}' in the last line", k));
                }
                simdjson::ondemand::value n;
                check(f.value().get(n));
                out.documents = read_int(n, "documents");
                counted = true;
            }
            if (!counted) bad("the last line does not count the documents");
            out.kind = Line::Kind::end;
        }
    }
    // Anything after the object (a second one on the same line, say) is not a record.
    if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) {
        bad("invalid JSON: more after the record's closing brace");
    }
    if (out.kind == Line::Kind::end) {
        if (seen.has("id") || seen.has("text") || seen.has("chunks")) {
            bad("the last line 'rk_export_end' holds document fields");
        }
        return out;
    }
    if (!seen.has("id")) bad("the record has no 'id'");
    if (!seen.has("text")) bad("the record has no 'text'");
    if (d.ext_id.empty()) bad("the record's 'id' is empty");
    if (out.has_chunks && d.chunks.empty()) bad("the record's 'chunks' is empty");
    for (std::size_t i = 0; i < d.chunks.size(); ++i) {
        if (d.chunks[i].tokens < 0) bad(fmt::format("chunk {}'s 'tokens' is negative", i));
    }
    return out;
}

void take_chunks(store::DocumentRecord& doc) {
    const auto size = static_cast<std::int64_t>(doc.body.size());
    for (std::size_t i = 0; i < doc.chunks.size(); ++i) {
        auto& c = doc.chunks[i];
        if (c.start < 0 || c.end < c.start || c.end > size || !on_boundary(doc.body, c.start) ||
            !on_boundary(doc.body, c.end)) {
            bad(
                fmt::format("chunk {}'s byte range {}..{} is not within the text ({} bytes) on "
                            "character boundaries",
                            i, c.start, c.end, size));
        }
        c.text = doc.body.substr(static_cast<std::size_t>(c.start),
                                 static_cast<std::size_t>(c.end - c.start));
    }
}

}  // namespace rk::transfer
