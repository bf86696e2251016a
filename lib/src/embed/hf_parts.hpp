// The pieces of a tokenizer.json that come before its model: reading the JSON, the
// normalizers and the pre-tokenizers (which hf_tokenizer.hpp lists).
#pragma once

#include <fmt/format.h>
#include <simdjson.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "embed/hf_tokenizer.hpp"
#include "rk/error.hpp"

namespace rk::embed::hf {

using simdjson::dom::element;

// Reads members of the JSON of one file; every complaint is an InputError naming the file.
class Json {
  public:
    explicit Json(const std::filesystem::path& file) : file_(file) {}

    [[noreturn]] void fail(const std::string& what) const {
        throw InputError(what, file_.string());
    }
    [[noreturn]] void unsupported(std::string_view what, std::string_view type) const {
        fail(fmt::format("unsupported {} type '{}'", what, type));
    }
    // The member `key` of `o`, or nullopt when absent or null.
    static std::optional<element> member(const element& o, std::string_view key) {
        element v;
        if (o[key].get(v) != simdjson::SUCCESS || v.is_null()) return std::nullopt;
        return v;
    }
    std::string_view type(const element& o, std::string_view what) const {
        std::string_view t;
        if (!o.is_object() || o["type"].get_string().get(t) != simdjson::SUCCESS) {
            fail(fmt::format("the {} has no \"type\"", what));
        }
        return t;
    }
    std::string string(const element& o, std::string_view key, std::string fallback) const {
        auto v = member(o, key);
        if (!v) return fallback;
        std::string_view s;
        if (v->get_string().get(s) != simdjson::SUCCESS)
            fail(fmt::format("'{}' is not a string", key));
        return std::string(s);
    }
    bool boolean(const element& o, std::string_view key, bool fallback) const {
        auto v = member(o, key);
        if (!v) return fallback;
        bool b = false;
        if (v->get_bool().get(b) != simdjson::SUCCESS)
            fail(fmt::format("'{}' is not a boolean", key));
        return b;
    }
    std::uint64_t count(const element& o, std::string_view key, std::uint64_t fallback) const {
        auto v = member(o, key);
        if (!v) return fallback;
        std::uint64_t n = 0;
        if (v->get_uint64().get(n) != simdjson::SUCCESS)
            fail(fmt::format("'{}' is not a count", key));
        return n;
    }
    // The member `key` of `o`, which must be an array.
    simdjson::dom::array array(const element& o, std::string_view key) const {
        simdjson::dom::array a;
        if (o[key].get_array().get(a) != simdjson::SUCCESS)
            fail(fmt::format("'{}' is not an array", key));
        return a;
    }

  private:
    const std::filesystem::path& file_;
};

using Normalizer = std::function<void(std::u32string&)>;
using PreTokenizer = std::function<void(std::vector<PreToken>&)>;

// UTF-8 to code points, an ill-formed sequence's each byte as U+FFFD; and back.
std::u32string decode(std::string_view s);
std::string encode_utf8(std::u32string_view s);

// Appends the normalizer `n` (a Sequence flattened) to `out`. Throws InputError naming `file`
// for what is unsupported.
void add_normalizers(const Json& json, const element& n, std::vector<Normalizer>& out,
                     const std::filesystem::path& file);
// Appends the pre-tokenizer `n` (a Sequence flattened) to `out`; throws as add_normalizers.
void add_pre_tokenizers(const Json& json, const element& n, std::vector<PreTokenizer>& out);

}  // namespace rk::embed::hf
