// A Hugging Face tokenizer (tokenizer.json), the part of it a static embedding model needs: text
// to token ids, without special tokens, post-processing, padding or truncation.
//
// Supported: normalizers BertNormalizer, Lowercase, NFC, NFD, NFKC, NFKD, StripAccents, Strip,
// Prepend, Replace (with a string pattern) and Sequence of them; pre-tokenizers
// BertPreTokenizer, Whitespace, WhitespaceSplit, Punctuation (isolated or removed), Metaspace
// and Sequence of them; models WordPiece, WordLevel and Unigram (with byte_fallback). Anything
// else the file names (BPE, Precompiled, ByteLevel, Split, a regex pattern, ...) is an
// InputError naming the file and the type, never a guess. Added tokens that are not normalised
// (special tokens such as "[CLS]") are cut out of the raw text first, as the library does
// even without special tokens; normalised added tokens are left to the model.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace simdjson::dom {
class element;
}

namespace rk::embed {

// A map from token to id that can be searched with a string_view, without a copy.
struct TokenHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};
using Vocab = std::unordered_map<std::string, std::uint32_t, TokenHash, std::equal_to<>>;

// A piece of normalised text that the model tokenises on its own.
struct PreToken {
    std::u32string text;
    bool at_start = false;  // begins the text (for Metaspace's "first" prepend scheme)
};

class HfTokenizer {
  public:
    // Reads `file`. Throws InputError whose where() is the file when it is missing, is not
    // JSON, or states a component or option this class does not support.
    explicit HfTokenizer(const std::filesystem::path& file);

    // The ids of `text`'s tokens, in order, into `ids` (replaced). Ill-formed UTF-8 counts as
    // U+FFFD. Never throws for any text.
    void encode(std::string_view text, std::vector<std::uint32_t>& ids) const;

    // One more than the largest id the model can produce.
    [[nodiscard]] std::uint32_t id_count() const { return id_count_; }
    // The id of the model's unknown token when it names one by string (WordPiece's and
    // WordLevel's unk_token). Unigram states only an unk_id, which model2vec keeps.
    [[nodiscard]] std::optional<std::uint32_t> unk_token_id() const { return unk_token_id_; }
    // The median length of the vocabulary's tokens in code points, rounded down.
    [[nodiscard]] std::size_t median_token_length() const { return median_length_; }

  private:
    using Normalizer = std::function<void(std::u32string&)>;
    using PreTokenizer = std::function<void(std::vector<PreToken>&)>;
    enum class Model { wordpiece, wordlevel, unigram };

    struct AddedToken {
        std::string content;
        std::uint32_t id = 0;
        bool single_word = false, lstrip = false, rstrip = false;
    };

    void read_model(const simdjson::dom::element& model);
    void read_added(const simdjson::dom::element& tokens);
    void encode_segment(std::string_view text, bool at_start,
                        std::vector<std::uint32_t>& ids) const;
    void word_piece(std::string_view word, std::vector<std::uint32_t>& ids) const;
    void unigram(std::string_view piece, std::vector<std::uint32_t>& ids) const;

    std::filesystem::path file_;
    std::vector<Normalizer> normalizers_;
    std::vector<PreTokenizer> pre_tokenizers_;
    Model model_ = Model::wordpiece;
    Vocab vocab_;
    std::uint32_t id_count_ = 0;
    std::optional<std::uint32_t> unk_token_id_;
    std::size_t median_length_ = 0;
    std::vector<AddedToken> added_;  // matched in the raw text ("normalized": false)
    // WordPiece
    std::string continuing_prefix_ = "##";
    std::size_t max_word_chars_ = 100;
    // Unigram
    std::vector<double> scores_;
    std::optional<std::uint32_t> unk_id_;
    double unk_score_ = 0;
    std::size_t max_piece_bytes_ = 0;
    bool byte_fallback_ = false;
};

}  // namespace rk::embed
