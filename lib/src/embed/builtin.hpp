// The builtin embedder. A text is the bag of the character 3- and 4-grams of its words (ASCII
// case folded, stop words left out, each word padded with a space either side), each gram
// weighted 1 + ln tf. Two texts are as similar as the cosine of their bags; a query's grams
// are also weighted by their inverse document frequency in the index (documents are embedded
// without corpus statistics, so their vectors never go stale). It needs no model and no
// network and is the same on every machine.
//
// A bag has tens of thousands of possible dimensions, too many to compare a million of them
// one by one. So each text also gets a code of N bits (4096 by default): the signs of N random
// projections of its bag (SimHash; Charikar 2002). The bag is feature-hashed into 2N signed
// dimensions and rotated by two rounds of random signs and a Walsh-Hadamard transform (a fast
// stand-in for a Gaussian projection, as in Ailon and Chazelle's fast Johnson-Lindenstrauss
// transform); the first N signs are the code. Codes are compared with each other by Hamming
// distance, which approximates the angle between the bags, to build the HNSW graph; a
// query's own projection scores a code asymmetrically, in float; and the best candidates the
// codes find are then scored exactly from their text (ExactQuery), so a code only has to find
// the right candidates, never to rank them.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "rk/embed.hpp"

namespace rk::embed {

// An n-gram: its bytes and length packed into a number, that number put through a bijective
// mix (which picks its projections and document-frequency bucket), and its count in the text.
struct Gram {
    std::uint64_t key = 0, hash = 0;
    std::uint32_t count = 0;
};

// Document frequencies are counted per bucket of 2^18, indexed by another part of the hash
// than the ones that pick projections.
constexpr std::uint32_t kDfBuckets = 1U << 18;
inline std::uint32_t df_bucket(std::uint64_t hash) {
    return static_cast<std::uint32_t>(hash >> 20) & (kDfBuckets - 1);
}

// A gram's weight in a document: 1 + ln tf.
float gram_weight(std::uint32_t count);

class BuiltinEmbedder final : public Embedder {
  public:
    static constexpr int kDefaultBits = 4096;
    // Throws UsageError unless `bits` is a power of two from 256 to 65536.
    explicit BuiltinEmbedder(int bits = kDefaultBits);

    [[nodiscard]] std::string spec() const override;
    // The projection's length, which is the code's length in bits.
    [[nodiscard]] int dimension() const override { return bits_; }
    // The unit-length projection of each text's bag (its signs are the text's code).
    void embed(std::span<const std::string_view> texts, std::span<float> out) const override;

    // The text's distinct n-grams with their counts (replaces `out`).
    static void grams(std::string_view text, std::vector<Gram>& out);
    // The length of the bag of `grams`: sqrt of the sum of (1 + ln count)^2.
    static float norm(std::span<const Gram> grams);
    // The projection of the bag of `grams`, each weighted weight(g) * (1 + ln count), into
    // `out` (dimension() floats), not normalised.
    void project(std::span<const Gram> grams, const std::function<float(const Gram&)>& weight,
                 std::span<float> out) const;

  private:
    int bits_;
    std::vector<float> signs1_, signs2_;  // the rotation's random signs, 2 * bits_ each
};

// A query's grams with their weights, IDF included, scoring texts by the exact cosine of
// the bags: sum over shared grams of w_query * (1 + ln tf_text), over both lengths.
class ExactQuery {
  public:
    // `weight(g)` is the gram's IDF (1 for none).
    ExactQuery(std::span<const Gram> grams, const std::function<float(const Gram&)>& weight);
    [[nodiscard]] bool empty() const { return norm_ <= 0; }
    // The cosine with a text whose bag has length `text_norm` (0 when it shares nothing).
    [[nodiscard]] double cosine(std::string_view text, float text_norm) const;

  private:
    // The query slots a padded word's grams hit, one entry per hit.
    std::span<const std::uint32_t> word_slots(std::string_view word) const;
    void grow_words() const;

    struct Slot {
        std::uint64_t key = 0;
        float weight = 0;
    };
    struct WordEntry {
        std::uint64_t key = 0;  // the word packed, or hashed when longer than 7 bytes
        std::uint32_t first = 0, count = 0;
    };
    mutable std::vector<WordEntry> words_;  // words seen so far, open addressing
    mutable std::size_t words_used_ = 0;
    mutable std::vector<std::uint32_t> slot_pool_;
    mutable std::vector<std::uint32_t> counts_;  // per query slot, for the text at hand
    std::vector<Slot> slots_;  // open addressing by key; key 0 (no gram) marks a free slot
    int bits_ = 0;             // slots_ holds 2^bits_
    double norm_ = 0;
};

}  // namespace rk::embed
