// The model2vec:DIR embedder: a static embedding model in the Model2Vec layout, embedding text
// as model2vec's StaticModel.encode does. DIR holds
//   model.safetensors  the matrix "embeddings" (rows x dimension; F32, F16, BF16, F64 or I8,
//                      I8 used as stored, since model2vec keeps no scale), and optionally
//                      "weights" (one per token id, multiplied into its row) and "mapping"
//                      (token id -> row, for vocabulary-quantised models);
//   tokenizer.json     the Hugging Face tokenizer (see hf_tokenizer.hpp for what is supported);
//   config.json        "normalize": whether to scale each vector to unit length (rk's default,
//                      when the file does not say, is true).
// A text is tokenised without special tokens; the unknown token (WordPiece's and WordLevel's
// unk_token) is dropped; the text is cut to 512 tokens (and, before tokenising, to 512 times
// the vocabulary's median token length in code points, as model2vec does); its vector is the
// mean of its tokens' (weighted) rows, all zero when it has no token.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rk/embed.hpp"

namespace rk::embed {

class Model2VecEmbedder final : public Embedder {
  public:
    static constexpr std::size_t kMaxTokens = 512;

    // Maps DIR/model.safetensors and reads DIR's tokenizer.json and config.json. Throws
    // InputError whose where() names the file at fault when DIR or a file is missing,
    // unreadable or malformed (not JSON; a safetensors header whose sizes, offsets or shapes
    // disagree with each other or with the file; an unsupported dtype or tokenizer component;
    // a token id, mapping or weight outside the matrix).
    explicit Model2VecEmbedder(const std::filesystem::path& dir);
    ~Model2VecEmbedder() override;

    // "model2vec:" and the directory's absolute, lexically normal path.
    [[nodiscard]] std::string spec() const override;
    // The matrix's columns.
    [[nodiscard]] int dimension() const override;
    // texts.size() * dimension() floats into `out`, row after row; throws Error when `out`
    // has another size. Many texts are shared out over the machine's cores.
    void embed(std::span<const std::string_view> texts, std::span<float> out) const override;

    // The token ids whose rows make up `text`'s vector, in order.
    [[nodiscard]] std::vector<std::uint32_t> token_ids(std::string_view text) const;

  private:
    struct Model;
    void embed_range(std::span<const std::string_view> texts, std::span<float> out) const;

    std::filesystem::path dir_;
    std::unique_ptr<const Model> model_;
};

// A Model2VecEmbedder for `dir`, as make_embedder("model2vec:DIR") is to give it.
std::unique_ptr<Embedder> make_model2vec(std::string_view dir);

}  // namespace rk::embed
