#include "embed/hf_parts.hpp"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>

#include "text/utf8.hpp"

namespace rk::embed::hf {

namespace {

// The character classes follow Rust's char methods, which the tokenizers library uses.
bool is_whitespace(char32_t c) {
    return u_isUWhiteSpace(static_cast<UChar32>(c)) != 0;
}

bool is_other(char32_t c) {
    return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_C_MASK) != 0;
}

bool is_punctuation(char32_t c) {
    if (c < 0x80) return c > 0x20 && c < 0x7F && u_isalnum(static_cast<UChar32>(c)) == 0;
    return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_P_MASK) != 0;
}

bool is_mark_nonspacing(char32_t c) {
    return u_charType(static_cast<UChar32>(c)) == U_NON_SPACING_MARK;
}

// What the regex class \w matches in Rust: alphabetic, marks, decimal digits, connector
// punctuation and the joiners.
bool is_word(char32_t c) {
    const auto u = static_cast<UChar32>(c);
    constexpr auto kMask = U_GC_M_MASK | U_GC_ND_MASK | U_GC_PC_MASK;
    return u_hasBinaryProperty(u, UCHAR_ALPHABETIC) != 0 || (U_GET_GC_MASK(u) & kMask) != 0 ||
           u_hasBinaryProperty(u, UCHAR_JOIN_CONTROL) != 0;
}

bool is_chinese(char32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

}  // namespace

std::u32string decode(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    std::size_t i = 0;
    while (i < s.size()) {
        const std::size_t n = text::utf8_sequence_length(s, i);
        if (n == 0) {
            out.push_back(U'\uFFFD');
            ++i;
            continue;
        }
        auto b = static_cast<unsigned char>(s[i]);
        char32_t c = n == 1 ? b : n == 2 ? (b & 0x1FU) : n == 3 ? (b & 0x0FU) : (b & 0x07U);
        for (std::size_t k = 1; k < n; ++k) {
            c = (c << 6U) | (static_cast<unsigned char>(s[i + k]) & 0x3FU);
        }
        out.push_back(c);
        i += n;
    }
    return out;
}

std::string encode_utf8(std::u32string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char32_t c : s) text::append_utf8(out, c);
    return out;
}

namespace {

icu::UnicodeString to_icu(std::u32string_view s) {
    icu::UnicodeString u;
    for (char32_t c : s) u.append(static_cast<UChar32>(c));
    return u;
}

void append_icu(const icu::UnicodeString& u, std::u32string& out) {
    for (int32_t i = 0; i < u.length();) {
        const UChar32 c = u.char32At(i);
        out.push_back(static_cast<char32_t>(c));
        i += U16_LENGTH(c);
    }
}

void lowercase(std::u32string& s) {
    std::u32string out;
    out.reserve(s.size());
    for (char32_t c : s) {
        if (c < 0x80) {
            out.push_back(c >= U'A' && c <= U'Z' ? c + 32 : c);
            continue;
        }
        // One code point at a time, as Rust's char::to_lowercase: no final-sigma context.
        icu::UnicodeString u(static_cast<UChar32>(c));
        append_icu(u.toLower(icu::Locale::getRoot()), out);
    }
    s = std::move(out);
}

void strip_marks(std::u32string& s) {
    std::erase_if(s, is_mark_nonspacing);
}

// A normalizer that brings text into a Unicode normal form.
std::function<void(std::u32string&)> normal_form(const icu::Normalizer2* (*get)(UErrorCode&),
                                                 const std::filesystem::path& file) {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* n = get(status);
    if (U_FAILURE(status) || n == nullptr) {
        throw InputError("ICU has no data for a Unicode normal form", file.string());
    }
    return [n](std::u32string& s) {
        UErrorCode st = U_ZERO_ERROR;
        const icu::UnicodeString out = n->normalize(to_icu(s), st);
        if (U_FAILURE(st)) return;  // only on allocation failure; the text stays as it was
        s.clear();
        append_icu(out, s);
    };
}

char32_t single_char(const Json& json, const std::string& s, std::string_view key) {
    const std::u32string u = decode(s);
    if (u.size() != 1) json.fail(fmt::format("'{}' must be one character", key));
    return u[0];
}

}  // namespace

void add_normalizers(const Json& json, const element& n, std::vector<Normalizer>& out,
                     const std::filesystem::path& file) {
    const std::string_view type = json.type(n, "normalizer");
    if (type == "Sequence") {
        for (element e : json.array(n, "normalizers")) add_normalizers(json, e, out, file);
    } else if (type == "BertNormalizer") {
        const bool clean = json.boolean(n, "clean_text", true);
        const bool chinese = json.boolean(n, "handle_chinese_chars", true);
        const bool lower = json.boolean(n, "lowercase", true);
        // Accents are stripped when asked, or by default when lowercasing.
        const bool strip = json.boolean(n, "strip_accents", lower);
        auto nfd = normal_form(&icu::Normalizer2::getNFDInstance, file);
        out.emplace_back([=](std::u32string& s) {
            std::u32string t;
            t.reserve(s.size());
            for (char32_t c : s) {
                if (clean) {
                    const bool control = c != U'\t' && c != U'\n' && c != U'\r' && is_other(c);
                    if (c == 0 || c == U'\uFFFD' || control) continue;
                    if (c == U'\t' || c == U'\n' || c == U'\r' || is_whitespace(c)) c = U' ';
                }
                if (chinese && is_chinese(c)) {
                    t += U' ';
                    t += c;
                    t += U' ';
                } else {
                    t += c;
                }
            }
            if (strip) {
                nfd(t);
                strip_marks(t);
            }
            if (lower) lowercase(t);
            s = std::move(t);
        });
    } else if (type == "Lowercase") {
        out.emplace_back(lowercase);
    } else if (type == "StripAccents") {
        out.emplace_back(strip_marks);
    } else if (type == "NFC") {
        out.push_back(normal_form(&icu::Normalizer2::getNFCInstance, file));
    } else if (type == "NFD") {
        out.push_back(normal_form(&icu::Normalizer2::getNFDInstance, file));
    } else if (type == "NFKC") {
        out.push_back(normal_form(&icu::Normalizer2::getNFKCInstance, file));
    } else if (type == "NFKD") {
        out.push_back(normal_form(&icu::Normalizer2::getNFKDInstance, file));
    } else if (type == "Strip") {
        const bool left = json.boolean(n, "strip_left", true);
        const bool right = json.boolean(n, "strip_right", true);
        out.emplace_back([=](std::u32string& s) {
            std::size_t b = 0, e = s.size();
            while (left && b < e && is_whitespace(s[b])) ++b;
            while (right && e > b && is_whitespace(s[e - 1])) --e;
            s = s.substr(b, e - b);
        });
    } else if (type == "Prepend") {
        const std::u32string prefix = decode(json.string(n, "prepend", ""));
        out.emplace_back([prefix](std::u32string& s) {
            if (!s.empty()) s.insert(0, prefix);
        });
    } else if (type == "Replace") {
        auto pattern = Json::member(n, "pattern");
        std::string_view from;
        if (!pattern || (*pattern)["String"].get_string().get(from) != simdjson::SUCCESS) {
            json.unsupported("Replace pattern", "Regex");
        }
        const std::u32string f = decode(from), to = decode(json.string(n, "content", ""));
        if (f.empty()) json.fail("a Replace pattern is empty");
        out.emplace_back([f, to](std::u32string& s) {
            std::u32string t;
            std::size_t i = 0;
            for (std::size_t j = s.find(f); j != std::u32string::npos; j = s.find(f, i)) {
                t.append(s, i, j - i).append(to);
                i = j + f.size();
            }
            s = t.append(s, i);
        });
    } else {
        json.unsupported("normalizer", type);
    }
}

namespace {

// How a pre-tokenizer treats a character: dropped between pieces, a piece of its own, or part
// of a run of characters of the same class (any value above 0).
constexpr int kDrop = 0;
constexpr int kAlone = -1;

template <typename Classify>
std::function<void(std::vector<PreToken>&)> splitter(Classify classify) {
    return [classify](std::vector<PreToken>& pieces) {
        std::vector<PreToken> out;
        for (const PreToken& p : pieces) {
            const std::u32string& s = p.text;
            std::size_t i = 0;
            while (i < s.size()) {
                const int cls = classify(s[i]);
                std::size_t j = i + 1;
                if (cls > 0) {
                    while (j < s.size() && classify(s[j]) == cls) ++j;
                }
                if (cls != kDrop) out.push_back({s.substr(i, j - i), p.at_start && i == 0});
                i = j;
            }
        }
        pieces = std::move(out);
    };
}

std::function<void(std::vector<PreToken>&)> metaspace(const Json& json, const element& n) {
    const char32_t repl = single_char(json, json.string(n, "replacement", "\u2581"), "replacement");
    std::string scheme = json.string(n, "prepend_scheme", "");
    if (scheme.empty()) scheme = json.boolean(n, "add_prefix_space", true) ? "always" : "never";
    if (scheme != "always" && scheme != "first" && scheme != "never") {
        json.unsupported("Metaspace prepend_scheme", scheme);
    }
    const bool split = json.boolean(n, "split", true);
    return [=](std::vector<PreToken>& pieces) {
        std::vector<PreToken> out;
        for (PreToken& p : pieces) {
            std::replace(p.text.begin(), p.text.end(), U' ', repl);
            const bool prepend = scheme == "always" || (scheme == "first" && p.at_start);
            if (prepend && (p.text.empty() || p.text[0] != repl)) p.text.insert(0, 1, repl);
            if (!split) {
                out.push_back(std::move(p));
                continue;
            }
            // Each replacement character begins a new piece.
            std::size_t begin = 0;
            for (std::size_t i = 1; i <= p.text.size(); ++i) {
                if (i == p.text.size() || p.text[i] == repl) {
                    out.push_back({p.text.substr(begin, i - begin), p.at_start && begin == 0});
                    begin = i;
                }
            }
        }
        pieces = std::move(out);
    };
}

}  // namespace

void add_pre_tokenizers(const Json& json, const element& n, std::vector<PreTokenizer>& out) {
    const std::string_view type = json.type(n, "pre_tokenizer");
    if (type == "Sequence") {
        for (element e : json.array(n, "pretokenizers")) add_pre_tokenizers(json, e, out);
    } else if (type == "BertPreTokenizer") {
        out.push_back(splitter([](char32_t c) {
            return is_whitespace(c) ? kDrop : is_punctuation(c) ? kAlone : 1;
        }));
    } else if (type == "Whitespace") {
        // The pattern \w+|[^\w\s]+.
        out.push_back(splitter([](char32_t c) {
            return is_whitespace(c) ? kDrop : is_word(c) ? 1 : 2;
        }));
    } else if (type == "WhitespaceSplit") {
        out.push_back(splitter([](char32_t c) { return is_whitespace(c) ? kDrop : 1; }));
    } else if (type == "Punctuation") {
        const std::string behavior = json.string(n, "behavior", "Isolated");
        int punct = kAlone;
        if (behavior == "Removed") {
            punct = kDrop;
        } else if (behavior == "Contiguous") {
            punct = 2;
        } else if (behavior != "Isolated") {
            json.unsupported("Punctuation behavior", behavior);
        }
        out.push_back(splitter([punct](char32_t c) { return is_punctuation(c) ? punct : 1; }));
    } else if (type == "Metaspace") {
        out.push_back(metaspace(json, n));
    } else {
        json.unsupported("pre_tokenizer", type);
    }
}

}  // namespace rk::embed::hf
