#include "embed/hf_tokenizer.hpp"

#include <fmt/format.h>
#include <simdjson.h>
#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <limits>

#include "rk/error.hpp"
#include "text/utf8.hpp"

namespace rk::embed {

namespace {

using simdjson::dom::element;
using simdjson::dom::object;

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
    // The elements of `o` itself when `key` is empty or of its member `key`.
    simdjson::dom::array array(const element& o, std::string_view key) const {
        simdjson::dom::array a;
        if (o[key].get_array().get(a) != simdjson::SUCCESS)
            fail(fmt::format("'{}' is not an array", key));
        return a;
    }

  private:
    const std::filesystem::path& file_;
};

char32_t single_char(const Json& json, const std::string& s, std::string_view key) {
    const std::u32string u = decode(s);
    if (u.size() != 1) json.fail(fmt::format("'{}' must be one character", key));
    return u[0];
}

void add_normalizers(const Json& json, const element& n,
                     std::vector<std::function<void(std::u32string&)>>& out,
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

void add_pre_tokenizers(const Json& json, const element& n,
                        std::vector<std::function<void(std::vector<PreToken>&)>>& out) {
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

}  // namespace

HfTokenizer::HfTokenizer(const std::filesystem::path& file) : file_(file) {
    const Json json(file_);
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file_, ec)) json.fail("no such file");
    simdjson::padded_string bytes;
    if (simdjson::padded_string::load(file_.string()).get(bytes) != simdjson::SUCCESS) {
        json.fail("cannot read the file");
    }
    simdjson::dom::parser parser;
    element root;
    if (auto err = parser.parse(bytes).get(root); err != simdjson::SUCCESS) {
        json.fail(fmt::format("not valid JSON: {}", simdjson::error_message(err)));
    }
    if (!root.is_object()) json.fail("not a JSON object");
    if (auto n = Json::member(root, "normalizer")) add_normalizers(json, *n, normalizers_, file_);
    if (auto p = Json::member(root, "pre_tokenizer")) add_pre_tokenizers(json, *p, pre_tokenizers_);
    auto model = Json::member(root, "model");
    if (!model) json.fail("no \"model\"");
    read_model(*model);

    std::vector<std::size_t> lengths;
    lengths.reserve(vocab_.size());
    for (const auto& [token, id] : vocab_) lengths.push_back(decode(token).size());
    if (!lengths.empty()) {
        // As numpy's median: the mean of the middle two of an even count.
        std::sort(lengths.begin(), lengths.end());
        const std::size_t n = lengths.size();
        median_length_ = n % 2 == 1 ? lengths[n / 2] : (lengths[n / 2 - 1] + lengths[n / 2]) / 2;
    }
}

void HfTokenizer::read_model(const element& m) {
    const Json json(file_);
    const std::string_view type = json.type(m, "model");
    if (type == "WordPiece" || type == "WordLevel") {
        model_ = type == "WordPiece" ? Model::wordpiece : Model::wordlevel;
        object vocab;
        if (m["vocab"].get_object().get(vocab) != simdjson::SUCCESS) {
            json.fail("the model's 'vocab' is not an object");
        }
        for (auto [key, value] : vocab) {
            std::uint64_t id = 0;
            if (value.get_uint64().get(id) != simdjson::SUCCESS ||
                id >= std::numeric_limits<std::uint32_t>::max()) {
                json.fail(fmt::format("the id of token '{}' is not a valid id", key));
            }
            vocab_.emplace(std::string(key), static_cast<std::uint32_t>(id));
            id_count_ = std::max(id_count_, static_cast<std::uint32_t>(id + 1));
        }
        const std::string unk =
            json.string(m, "unk_token", model_ == Model::wordpiece ? "[UNK]" : "<unk>");
        if (auto it = vocab_.find(unk); it != vocab_.end()) unk_token_id_ = it->second;
        if (model_ == Model::wordpiece) {
            continuing_prefix_ = json.string(m, "continuing_subword_prefix", "##");
            max_word_chars_ = json.count(m, "max_input_chars_per_word", 100);
        }
        return;
    }
    if (type != "Unigram") json.unsupported("model", type);
    model_ = Model::unigram;
    double min_score = 0;
    for (element e : json.array(m, "vocab")) {
        simdjson::dom::array pair;
        std::string_view piece;
        double score = 0;
        if (e.get_array().get(pair) != simdjson::SUCCESS || pair.size() != 2 ||
            pair.at(0).get_string().get(piece) != simdjson::SUCCESS ||
            pair.at(1).get_double().get(score) != simdjson::SUCCESS) {
            json.fail("a Unigram vocab entry is not a [piece, score] pair");
        }
        if (piece.empty()) json.fail("a Unigram vocab entry is empty");
        const auto id = static_cast<std::uint32_t>(scores_.size());
        vocab_.emplace(std::string(piece), id);
        scores_.push_back(score);
        min_score = std::min(min_score, score);
        max_piece_bytes_ = std::max(max_piece_bytes_, piece.size());
    }
    id_count_ = static_cast<std::uint32_t>(scores_.size());
    if (auto v = Json::member(m, "unk_id")) {
        std::uint64_t id = 0;
        if (v->get_uint64().get(id) != simdjson::SUCCESS || id >= scores_.size()) {
            json.fail("the Unigram unk_id is not an id of its vocab");
        }
        unk_id_ = static_cast<std::uint32_t>(id);
    }
    // The tokenizers library's penalty for an unknown character: 10 below the worst piece.
    unk_score_ = min_score - 10.0;
    byte_fallback_ = json.boolean(m, "byte_fallback", false);
}

void HfTokenizer::encode(std::string_view text, std::vector<std::uint32_t>& ids) const {
    ids.clear();
    std::u32string s = decode(text);
    for (const auto& n : normalizers_) n(s);
    std::vector<PreToken> pieces;
    pieces.push_back({std::move(s), true});
    for (const auto& p : pre_tokenizers_) p(pieces);
    for (const PreToken& p : pieces) {
        if (p.text.empty()) continue;
        const std::string word = encode_utf8(p.text);
        switch (model_) {
            case Model::wordpiece:
                word_piece(word, ids);
                break;
            case Model::unigram:
                unigram(word, ids);
                break;
            case Model::wordlevel:
                if (auto it = vocab_.find(word); it != vocab_.end()) {
                    ids.push_back(it->second);
                } else if (unk_token_id_) {
                    ids.push_back(*unk_token_id_);
                }
                break;
        }
    }
}

// Greedy longest match from the left; a word with a part that matches nothing is unknown
// as a whole.
void HfTokenizer::word_piece(std::string_view word, std::vector<std::uint32_t>& ids) const {
    const std::size_t before = ids.size();
    std::size_t chars = 0;
    for (const char c : word) {
        if ((static_cast<unsigned char>(c) & 0xC0U) != 0x80U) ++chars;
    }
    bool known = chars <= max_word_chars_;
    std::string candidate;
    for (std::size_t start = 0; known && start < word.size();) {
        std::size_t end = word.size();
        bool found = false;
        while (end > start) {
            candidate.assign(start > 0 ? continuing_prefix_ : std::string());
            candidate.append(word.substr(start, end - start));
            if (auto it = vocab_.find(candidate); it != vocab_.end()) {
                ids.push_back(it->second);
                found = true;
                break;
            }
            do --end;  // back to the previous character boundary
            while (end > start && (static_cast<unsigned char>(word[end]) & 0xC0U) == 0x80U);
        }
        known = found;
        start = end;
    }
    if (!known) {
        ids.resize(before);
        if (unk_token_id_) ids.push_back(*unk_token_id_);
    }
}

// The segmentation with the highest total score (Viterbi). A character no piece starts with
// becomes an unknown piece of its own; runs of unknown pieces fuse into one.
void HfTokenizer::unigram(std::string_view piece, std::vector<std::uint32_t>& ids) const {
    constexpr std::uint32_t kUnknown = std::numeric_limits<std::uint32_t>::max();
    const std::size_t n = piece.size();
    auto boundary = [&](std::size_t i) {
        return i == n || (static_cast<unsigned char>(piece[i]) & 0xC0U) != 0x80U;
    };
    constexpr double kNone = -std::numeric_limits<double>::infinity();
    std::vector<double> best(n + 1, kNone);
    std::vector<std::size_t> from(n + 1, 0);
    std::vector<std::uint32_t> token(n + 1, kUnknown);
    best[0] = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (!boundary(i) || best[i] == kNone) continue;
        std::size_t next = i + 1;
        while (!boundary(next)) ++next;
        bool single = false;
        for (std::size_t j = next; j <= n && j - i <= max_piece_bytes_; ++j) {
            if (!boundary(j)) continue;
            auto it = vocab_.find(piece.substr(i, j - i));
            if (it == vocab_.end()) continue;
            single = single || j == next;
            const double score = best[i] + scores_[it->second];
            if (score > best[j]) {
                best[j] = score;
                from[j] = i;
                token[j] = it->second;
            }
        }
        if (!single && best[i] + unk_score_ > best[next]) {
            best[next] = best[i] + unk_score_;
            from[next] = i;
            token[next] = kUnknown;
        }
    }
    struct Span {
        std::size_t begin, end;
        std::uint32_t id;
    };
    std::vector<Span> path;
    for (std::size_t j = n; j > 0; j = from[j]) path.push_back({from[j], j, token[j]});
    std::reverse(path.begin(), path.end());
    for (std::size_t k = 0; k < path.size(); ++k) {
        if (path[k].id != kUnknown) {
            ids.push_back(path[k].id);
            continue;
        }
        const std::size_t begin = path[k].begin;
        std::size_t end = path[k].end;
        while (k + 1 < path.size() && path[k + 1].id == kUnknown) end = path[++k].end;
        // The bytes of the fused run, as <0xNN> pieces when the model falls back to bytes.
        std::vector<std::uint32_t> fallback;
        bool all = byte_fallback_;
        for (std::size_t b = begin; all && b < end; ++b) {
            auto it = vocab_.find(fmt::format("<0x{:02X}>", static_cast<unsigned char>(piece[b])));
            all = it != vocab_.end();
            if (all) fallback.push_back(it->second);
        }
        if (all) {
            ids.insert(ids.end(), fallback.begin(), fallback.end());
        } else if (unk_id_) {
            ids.push_back(*unk_id_);
        }
    }
}

}  // namespace rk::embed
