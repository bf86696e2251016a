#include "embed/hf_tokenizer.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <limits>

#include "embed/hf_parts.hpp"
#include "rk/error.hpp"
#include "text/utf8.hpp"

namespace rk::embed {

namespace {

using hf::Json;
using simdjson::dom::element;
using simdjson::dom::object;

bool is_space_byte(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// A byte of a word, for an added token's single_word: ASCII letters and digits, and any byte
// of a non-ASCII character.
bool is_word_byte(char c) {
    const auto b = static_cast<unsigned char>(c);
    return b >= 0x80 || (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z');
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
    if (auto n = Json::member(root, "normalizer"))
        hf::add_normalizers(json, *n, normalizers_, file_);
    if (auto p = Json::member(root, "pre_tokenizer"))
        hf::add_pre_tokenizers(json, *p, pre_tokenizers_);
    auto model = Json::member(root, "model");
    if (!model) json.fail("no \"model\"");
    read_model(*model);
    if (auto added = Json::member(root, "added_tokens")) read_added(*added);

    std::vector<std::size_t> lengths;
    lengths.reserve(vocab_.size());
    for (const auto& [token, id] : vocab_) lengths.push_back(hf::decode(token).size());
    if (!lengths.empty()) {
        // As numpy's median: the mean of the middle two of an even count.
        std::sort(lengths.begin(), lengths.end());
        const std::size_t n = lengths.size();
        median_length_ = n % 2 == 1 ? lengths[n / 2] : (lengths[n / 2 - 1] + lengths[n / 2]) / 2;
    }
}

// Only added tokens matched in the raw text; those matched after normalisation
// ("normalized": true) are left to the model, which usually knows them too.
void HfTokenizer::read_added(const element& tokens) {
    const Json json(file_);
    simdjson::dom::array list;
    if (tokens.get_array().get(list) != simdjson::SUCCESS)
        json.fail("'added_tokens' is not an array");
    for (element t : list) {
        AddedToken a;
        a.content = json.string(t, "content", "");
        const std::uint64_t id = json.count(t, "id", std::numeric_limits<std::uint32_t>::max());
        if (a.content.empty() || id >= std::numeric_limits<std::uint32_t>::max()) {
            json.fail("an added token lacks its content or id");
        }
        if (json.boolean(t, "normalized", true)) continue;
        a.id = static_cast<std::uint32_t>(id);
        a.single_word = json.boolean(t, "single_word", false);
        a.lstrip = json.boolean(t, "lstrip", false);
        a.rstrip = json.boolean(t, "rstrip", false);
        id_count_ = std::max(id_count_, a.id + 1);
        added_.push_back(std::move(a));
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
    // Added tokens are cut out of the raw text first, leftmost and then longest; the text
    // between them is tokenised piece by piece.
    std::size_t segment = 0;
    for (std::size_t i = 0; !added_.empty() && i < text.size();) {
        const AddedToken* match = nullptr;
        for (const AddedToken& a : added_) {
            if (text.compare(i, a.content.size(), a.content) != 0) continue;
            const std::size_t end = i + a.content.size();
            if (a.single_word && ((i > 0 && is_word_byte(text[i - 1])) ||
                                  (end < text.size() && is_word_byte(text[end])))) {
                continue;
            }
            if (match == nullptr || a.content.size() > match->content.size()) match = &a;
        }
        if (match == nullptr) {
            i += std::max<std::size_t>(1, text::utf8_sequence_length(text, i));
            continue;
        }
        std::size_t begin = i, end = i + match->content.size();
        while (match->lstrip && begin > segment && is_space_byte(text[begin - 1])) --begin;
        while (match->rstrip && end < text.size() && is_space_byte(text[end])) ++end;
        encode_segment(text.substr(segment, begin - segment), segment == 0, ids);
        ids.push_back(match->id);
        segment = i = end;
    }
    encode_segment(text.substr(segment), segment == 0, ids);
}

void HfTokenizer::encode_segment(std::string_view text, bool at_start,
                                 std::vector<std::uint32_t>& ids) const {
    if (text.empty()) return;
    std::u32string s = hf::decode(text);
    for (const auto& n : normalizers_) n(s);
    std::vector<PreToken> pieces;
    pieces.push_back({std::move(s), at_start});
    for (const auto& p : pre_tokenizers_) p(pieces);
    for (const PreToken& p : pieces) {
        if (p.text.empty()) continue;
        const std::string word = hf::encode_utf8(p.text);
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
