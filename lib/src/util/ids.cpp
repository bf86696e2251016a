#include "rk/ids.hpp"

#include <string>

#include "text/utf8.hpp"

namespace rk {

namespace {

constexpr char kHex[] = "0123456789abcdef";

// The escape for the single byte `c` (outside any UTF-8 sequence), or nullptr when it stands
// for itself.
const char* named_escape(unsigned char c) noexcept {
    switch (c) {
        case '\\':
            return "\\\\";
        case '\t':
            return "\\t";
        case '\n':
            return "\\n";
        case '\r':
            return "\\r";
        default:
            return nullptr;
    }
}

bool needs_hex(unsigned char c, bool escape_space) noexcept {
    return c < 0x20 || c == 0x7f || (escape_space && c == ' ');
}

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Calls ascii(c) for each byte below 0x80, multi(bytes) for each well-formed UTF-8 sequence
// above, and bad(c) for each byte of an ill-formed one; stops when a callback returns true.
template <typename Ascii, typename Multi, typename Bad>
bool scan(std::string_view s, Ascii ascii, Multi multi, Bad bad) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            if (ascii(c)) return true;
            ++i;
            continue;
        }
        const std::size_t n = text::utf8_sequence_length(s, i);
        if (n == 0) {
            if (bad(c)) return true;
            ++i;
        } else {
            if (multi(s.substr(i, n))) return true;
            i += n;
        }
    }
    return false;
}

}  // namespace

bool id_needs_escape(std::string_view id, bool escape_space) noexcept {
    return scan(
        id,
        [&](unsigned char c) { return named_escape(c) != nullptr || needs_hex(c, escape_space); },
        [](std::string_view) { return false; }, [](unsigned char) { return true; });
}

std::string escape_id(std::string_view id, bool escape_space) {
    std::string out;
    out.reserve(id.size());
    auto hex = [&](unsigned char c) {
        out += "\\x";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xf]);
        return false;
    };
    scan(
        id,
        [&](unsigned char c) {
            if (const char* e = named_escape(c)) {
                out += e;
            } else if (needs_hex(c, escape_space)) {
                hex(c);
            } else {
                out.push_back(static_cast<char>(c));
            }
            return false;
        },
        [&](std::string_view seq) {
            out += seq;
            return false;
        },
        hex);
    return out;
}

std::optional<std::string> unescape_id(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\\') {
            out.push_back(text[i]);
            continue;
        }
        if (++i == text.size()) return std::nullopt;
        switch (text[i]) {
            case '\\':
                out.push_back('\\');
                break;
            case 't':
                out.push_back('\t');
                break;
            case 'n':
                out.push_back('\n');
                break;
            case 'r':
                out.push_back('\r');
                break;
            case 'x': {
                if (text.size() - i < 3) return std::nullopt;  // 'x' and two digits
                const int hi = hex_value(text[i + 1]);
                const int lo = hex_value(text[i + 2]);
                if (hi < 0 || lo < 0) return std::nullopt;
                out.push_back(static_cast<char>((hi << 4) | lo));
                i += 2;
                break;
            }
            default:
                return std::nullopt;
        }
    }
    return out;
}

void write_id(JsonWriter& w, std::string_view key, std::string_view id) {
    if (!text::utf8_first_invalid(id) && id.find('\0') == std::string_view::npos) {
        w.key(key).value(id);
        return;
    }
    w.key(key).value(escape_id(id));
    w.key(std::string(key) + "_escaped").value(true);
}

}  // namespace rk
