#include "embed/builtin.hpp"

#include <fmt/format.h>
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>

#include "rk/error.hpp"
#include "text/words.hpp"
#include "util/hadamard.hpp"

namespace rk::embed {

namespace {

// English function words: their n-grams are in nearly every text and would swamp the rest.
constexpr std::array<std::string_view, 93> kStopWords = {
    "a",     "an",    "and",    "are",   "as",    "at",   "be",    "been",    "but",   "by",
    "can",   "do",    "does",   "for",   "from",  "had",  "has",   "have",    "he",    "her",
    "his",   "how",   "i",      "if",    "in",    "into", "is",    "it",      "its",   "may",
    "more",  "most",  "no",     "not",   "of",    "on",   "or",    "other",   "our",   "out",
    "over",  "she",   "should", "so",    "some",  "such", "than",  "that",    "the",   "their",
    "them",  "then",  "there",  "these", "they",  "this", "those", "through", "to",    "under",
    "up",    "us",    "was",    "we",    "were",  "what", "when",  "where",   "which", "while",
    "who",   "why",   "will",   "with",  "would", "you",  "your",  "also",    "any",   "all",
    "both",  "each",  "just",   "only",  "own",   "same", "too",   "very",    "about", "after",
    "again", "being", "did"};

// splitmix64's finaliser: a fast, well-mixed hash of a packed n-gram.
std::uint64_t mix(std::uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// A slot for a packed key in a table of 2^bits: Fibonacci hashing, one multiply.
constexpr std::size_t slot_of(std::uint64_t key, int bits) {
    return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ULL) >> (64 - bits));
}

// A word of at most 7 bytes as one number: its bytes, and its length in the top byte.
constexpr std::uint64_t pack_word(std::string_view w) {
    std::uint64_t key = std::uint64_t{w.size()} << 56;
    for (std::size_t i = 0; i < w.size(); ++i) {
        key |= std::uint64_t{static_cast<unsigned char>(w[i])} << (8 * i);
    }
    return key;
}

// The stop words, packed, in an open-addressing table of 256 (every text's every word is
// looked up here).
class StopWords {
  public:
    static constexpr int kBits = 8;
    constexpr StopWords() {
        for (const auto w : kStopWords) {
            const std::uint64_t key = pack_word(w);
            std::size_t at = slot_of(key, kBits);
            while (slots_[at] != 0) at = (at + 1) % slots_.size();
            slots_[at] = key;
        }
    }
    [[nodiscard]] constexpr bool contains(std::string_view w) const {
        if (w.size() > 7) return false;
        const std::uint64_t key = pack_word(w);
        for (std::size_t at = slot_of(key, kBits);; at = (at + 1) % slots_.size()) {
            if (slots_[at] == key) return true;
            if (slots_[at] == 0) return false;
        }
    }

  private:
    std::array<std::uint64_t, std::size_t{1} << kBits> slots_{};
};

constexpr StopWords kStopTable;

bool stop_word(std::string_view w) {
    return kStopTable.contains(w);
}

bool word_byte(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           c >= 0x80;
}

// Counts packed n-grams in an open-addressing table that is reused from text to text.
class GramCounter {
  public:
    void add(std::uint64_t key) {
        if (2 * (used_.size() + 1) > slots_.size()) grow();
        const std::size_t mask = slots_.size() - 1;
        for (std::size_t at = slot_of(key, bits_);; at = (at + 1) & mask) {
            auto& s = slots_[at];
            if (s.key == key) {
                ++s.count;
                return;
            }
            if (s.key == 0) {
                s = {key, 1};
                used_.push_back(at);
                return;
            }
        }
    }
    void drain(std::vector<Gram>& out) {
        out.clear();
        out.reserve(used_.size());
        for (const std::size_t at : used_) {
            out.push_back({slots_[at].key, mix(slots_[at].key), slots_[at].count});
            slots_[at] = {};
        }
        used_.clear();
    }

  private:
    struct Slot {
        std::uint64_t key = 0;
        std::uint32_t count = 0;
    };
    void grow() {
        bits_ = std::max(bits_ + 1, 10);
        std::vector<Slot> old(std::size_t{1} << bits_);
        old.swap(slots_);
        used_.clear();
        const std::size_t mask = slots_.size() - 1;
        for (const auto& s : old) {
            if (s.key == 0) continue;
            std::size_t at = slot_of(s.key, bits_);
            while (slots_[at].key != 0) at = (at + 1) & mask;
            slots_[at] = s;
            used_.push_back(at);
        }
    }
    std::vector<Slot> slots_;
    std::vector<std::size_t> used_;
    int bits_ = 0;  // slots_ holds 2^bits_ once used
};

constexpr std::size_t kMaxWord = 64;  // longer runs (hashes, base64) add little but cost

// Calls fn(word) for every word of `text` that is not a stop word, lower-cased (a word with
// non-ASCII letters NFKC-casefolded, as the full-text index folds it: NFC and NFD, upper and
// lower case are one word), cut at kMaxWord bytes and padded with a space either side: the
// words as grams() and ExactQuery::cosine() must both see them.
template <typename Fn>
void for_each_word(std::string_view text, Fn&& fn) {
    std::array<char, kMaxWord + 2> word{};
    std::string folded;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && !word_byte(static_cast<unsigned char>(text[i]))) ++i;
        const std::size_t start = i;
        bool ascii = true;
        while (i < text.size() && word_byte(static_cast<unsigned char>(text[i]))) {
            ascii = ascii && static_cast<unsigned char>(text[i]) < 0x80;
            ++i;
        }
        std::string_view w = text.substr(start, i - start);
        if (!ascii) {
            folded = text::nfkc_casefold(w);
            w = folded;
        }
        std::size_t n = 0;
        word[n++] = ' ';
        for (const char c : w) {
            if (n > kMaxWord) break;
            word[n++] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
        }
        if (n == 1 || stop_word(std::string_view(word.data() + 1, n - 1))) continue;
        word[n++] = ' ';
        fn(std::string_view(word.data(), n));
    }
}

// Calls fn(key) for every 3- and 4-gram of a padded word. A key packs the gram's bytes and
// its length.
template <typename Fn>
void for_each_gram_of(std::string_view word, Fn&& fn) {
    for (std::size_t len = 3; len <= 4; ++len) {
        for (std::size_t at = 0; at + len <= word.size(); ++at) {
            std::uint64_t key = len;  // the length keeps "ab" and "ab\0" apart
            for (std::size_t b = 0; b < len; ++b) {
                key |= std::uint64_t{static_cast<unsigned char>(word[at + b])} << (8 + 8 * b);
            }
            fn(key);
        }
    }
}

}  // namespace

float gram_weight(std::uint32_t count) {
    return count == 1 ? 1.0F : 1.0F + std::log(static_cast<float>(count));
}

BuiltinEmbedder::BuiltinEmbedder(int bits) : bits_(bits) {
    if (bits < 256 || bits > 65536 || (bits & (bits - 1)) != 0) {
        throw UsageError(
            fmt::format("builtin embedder code of {} bits: it must be a power of two from 256 to "
                        "65536",
                        bits));
    }
    // Fixed signs, the same on every machine.
    const auto wide = 2 * static_cast<std::size_t>(bits);
    signs1_.resize(wide);
    signs2_.resize(wide);
    for (std::size_t i = 0; i < wide; ++i) {
        signs1_[i] = (mix(i + 0x5851F42D4C957F2DULL) & 1U) != 0 ? 1.0F : -1.0F;
        signs2_[i] = (mix(i + 0x14057B7EF767814FULL) & 1U) != 0 ? 1.0F : -1.0F;
    }
}

std::string BuiltinEmbedder::spec() const {
    return bits_ == kDefaultBits ? std::string("builtin") : fmt::format("builtin:{}", bits_);
}

void BuiltinEmbedder::grams(std::string_view text, std::vector<Gram>& out) {
    // librk is loaded with the program, never opened later, so its thread-locals can take the
    // initial-exec model: an offset from the thread pointer, not a call a use.
    [[gnu::tls_model("initial-exec")]] thread_local GramCounter counters;
    GramCounter& counter = counters;  // one lookup of the thread's counter, not one a gram
    for_each_word(text, [&](std::string_view word) {
        for_each_gram_of(word, [&](std::uint64_t key) { counter.add(key); });
    });
    counter.drain(out);
}

float BuiltinEmbedder::norm(std::span<const Gram> grams) {
    double sum = 0;
    for (const auto& g : grams) {
        const double w = gram_weight(g.count);
        sum += w * w;
    }
    return static_cast<float>(std::sqrt(sum));
}

void BuiltinEmbedder::project(std::span<const Gram> grams,
                              const std::function<float(const Gram&)>& weight,
                              std::span<float> out) const {
    // Feature hashing into twice the code's length, then a random rotation: two rounds of
    // random signs and a Walsh-Hadamard transform (a fast structured stand-in for a Gaussian
    // projection), of which the first half is kept.
    const std::size_t wide = signs1_.size();
    [[gnu::tls_model("initial-exec")]] thread_local std::vector<float> scratch;
    std::vector<float>& v = scratch;
    v.assign(wide, 0.0F);
    for (const auto& g : grams) {
        const float w = gram_weight(g.count) * weight(g);
        v[g.hash & (wide - 1)] += (g.hash >> 63) != 0 ? -w : w;
    }
    for (std::size_t i = 0; i < wide; ++i) v[i] *= signs1_[i];
    util::walsh_hadamard(v.data(), wide);
    for (std::size_t i = 0; i < wide; ++i) v[i] *= signs2_[i];
    util::walsh_hadamard(v.data(), wide);
    std::copy_n(v.begin(), out.size(), out.begin());
}

void BuiltinEmbedder::embed(std::span<const std::string_view> texts, std::span<float> out) const {
    const auto dim = static_cast<std::size_t>(bits_);
    if (out.size() != texts.size() * dim) {
        throw Error(fmt::format("embed: {} floats for {} texts of {} dimensions", out.size(),
                                texts.size(), dim));
    }
    std::vector<Gram> g;
    for (std::size_t i = 0; i < texts.size(); ++i) {
        grams(texts[i], g);
        const auto v = out.subspan(i * dim, dim);
        project(
            g, [](const Gram&) { return 1.0F; }, v);
        double sum = 0;
        for (const float x : v) sum += double{x} * x;
        if (sum <= 0) continue;
        const auto scale = static_cast<float>(1.0 / std::sqrt(sum));
        for (float& x : v) x *= scale;
    }
}

ExactQuery::ExactQuery(std::span<const Gram> grams,
                       const std::function<float(const Gram&)>& weight) {
    bits_ = 4;
    while ((std::size_t{1} << bits_) < 4 * grams.size()) ++bits_;
    slots_.resize(std::size_t{1} << bits_);
    double sum = 0;
    for (const auto& g : grams) {
        const float w = gram_weight(g.count) * weight(g);
        if (w <= 0) continue;
        sum += double{w} * w;
        for (std::size_t at = slot_of(g.key, bits_);; at = (at + 1) & (slots_.size() - 1)) {
            if (slots_[at].key == 0) {
                slots_[at] = {g.key, w};
                break;
            }
        }
    }
    norm_ = std::sqrt(sum);
}

std::span<const std::uint32_t> ExactQuery::word_slots(std::string_view word) const {
    // Words are looked up whole: a text repeats its words, and the texts of one query's
    // candidates share most of theirs.
    // (A packed word's top bit is clear; a hashed one's is set.)
    const std::uint64_t key = word.size() <= 9
                                  ? pack_word(word.substr(1, word.size() - 2))
                                  : XXH3_64bits(word.data(), word.size()) | (1ULL << 63);
    if (2 * (words_used_ + 1) > words_.size()) grow_words();
    const std::size_t mask = words_.size() - 1;
    std::size_t at = slot_of(key, std::countr_zero(words_.size()));
    for (; words_[at].key != 0; at = (at + 1) & mask) {
        if (words_[at].key == key) {
            return {slot_pool_.data() + words_[at].first, words_[at].count};
        }
    }
    const auto first = static_cast<std::uint32_t>(slot_pool_.size());
    const std::size_t query_mask = slots_.size() - 1;
    // Most of a text's grams are not the query's: a quarter-full table answers them at the
    // first empty slot.
    for_each_gram_of(word, [&](std::uint64_t gram) {
        for (std::size_t s = slot_of(gram, bits_);; s = (s + 1) & query_mask) {
            if (slots_[s].key == gram) {
                slot_pool_.push_back(static_cast<std::uint32_t>(s));
                return;
            }
            if (slots_[s].key == 0) return;
        }
    });
    words_[at] = {key, first, static_cast<std::uint32_t>(slot_pool_.size() - first)};
    ++words_used_;
    return {slot_pool_.data() + first, words_[at].count};
}

void ExactQuery::grow_words() const {
    // Up to 32768 words are kept; past that, start over rather than keep every rare word.
    const std::size_t size =
        words_.size() < 65536 ? std::max<std::size_t>(1024, 2 * words_.size()) : words_.size();
    std::vector<WordEntry> old(size);
    old.swap(words_);
    words_used_ = 0;
    if (size == old.size()) {
        slot_pool_.clear();
        return;
    }
    const int bits = std::countr_zero(size);
    for (const auto& w : old) {
        if (w.key == 0) continue;
        std::size_t at = slot_of(w.key, bits);
        while (words_[at].key != 0) at = (at + 1) & (size - 1);
        words_[at] = w;
        ++words_used_;
    }
}

double ExactQuery::cosine(std::string_view text, float text_norm) const {
    if (empty() || text_norm <= 0) return 0;
    auto& counts = counts_;
    counts.assign(slots_.size(), 0);
    for_each_word(text, [&](std::string_view word) {
        for (const auto slot : word_slots(word)) ++counts[slot];
    });
    double dot = 0;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
        if (counts[i] > 0) dot += double{slots_[i].weight} * gram_weight(counts[i]);
    }
    return dot / (norm_ * double{text_norm});
}

}  // namespace rk::embed
