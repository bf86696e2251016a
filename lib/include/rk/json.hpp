// A small streaming JSON writer: strings are escaped, invalid UTF-8 is written as U+FFFD,
// and commas are placed for you. Shared by every JSON the library and `rk` print.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rk {

class JsonWriter {
  public:
    JsonWriter& begin_object();
    JsonWriter& end_object();
    JsonWriter& begin_array();
    JsonWriter& end_array();
    JsonWriter& key(std::string_view k);
    JsonWriter& value(std::string_view s);
    JsonWriter& value(const char* s) { return value(std::string_view(s)); }
    JsonWriter& value(std::int64_t n);
    JsonWriter& value(int n) { return value(static_cast<std::int64_t>(n)); }
    JsonWriter& value(double d);
    JsonWriter& value(bool b);
    JsonWriter& null();
    // Inserts already-serialised JSON as a value.
    JsonWriter& raw(std::string_view json);

    [[nodiscard]] const std::string& str() const noexcept { return out_; }
    std::string take() { return std::move(out_); }

  private:
    void separate();
    std::string out_;
    std::vector<bool> first_;
    bool after_key_ = false;
};

// Appends `s` to `out` as a quoted JSON string.
void json_quote(std::string& out, std::string_view s);

}  // namespace rk
