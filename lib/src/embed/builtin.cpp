#include "embed/builtin.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>

#include "rk/error.hpp"

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

bool stop_word(std::string_view w) {
    static const auto sorted = [] {
        auto s = kStopWords;
        std::sort(s.begin(), s.end());
        return s;
    }();
    return w.size() <= 7 && std::binary_search(sorted.begin(), sorted.end(), w);
}

// splitmix64's finaliser: a fast, well-mixed hash of a packed n-gram.
std::uint64_t mix(std::uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
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
        for (std::size_t at = mix(key) & mask;; at = (at + 1) & mask) {
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
            out.push_back({mix(slots_[at].key), slots_[at].count});
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
        std::vector<Slot> old(std::max<std::size_t>(1024, slots_.size() * 2));
        old.swap(slots_);
        used_.clear();
        const std::size_t mask = slots_.size() - 1;
        for (const auto& s : old) {
            if (s.key == 0) continue;
            std::size_t at = mix(s.key) & mask;
            while (slots_[at].key != 0) at = (at + 1) & mask;
            slots_[at] = s;
            used_.push_back(at);
        }
    }
    std::vector<Slot> slots_;
    std::vector<std::size_t> used_;
};

constexpr std::size_t kMaxWord = 64;  // longer runs (hashes, base64) add little but cost

}  // namespace

BuiltinEmbedder::BuiltinEmbedder(int dimension) : dimension_(dimension) {
    if (dimension < 256 || dimension > 65536 || (dimension & (dimension - 1)) != 0) {
        throw UsageError(fmt::format(
            "builtin embedder dimension {} must be a power of two from 256 to 65536", dimension));
    }
}

std::string BuiltinEmbedder::spec() const {
    return dimension_ == kDefaultDimension ? std::string("builtin")
                                           : fmt::format("builtin:{}", dimension_);
}

void BuiltinEmbedder::grams(std::string_view text, std::vector<Gram>& out) {
    thread_local GramCounter counter;
    std::array<char, kMaxWord + 2> word{};
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && !word_byte(static_cast<unsigned char>(text[i]))) ++i;
        std::size_t n = 0;
        word[n++] = ' ';
        while (i < text.size() && word_byte(static_cast<unsigned char>(text[i]))) {
            const char c = text[i++];
            if (n <= kMaxWord) word[n++] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
        }
        if (n == 1 || stop_word(std::string_view(word.data() + 1, n - 1))) continue;
        word[n++] = ' ';
        for (std::size_t len = 3; len <= 4; ++len) {
            for (std::size_t at = 0; at + len <= n; ++at) {
                std::uint64_t key = len;  // the length keeps "ab" and "ab\0" apart
                for (std::size_t b = 0; b < len; ++b) {
                    key |= std::uint64_t{static_cast<unsigned char>(word[at + b])} << (8 + 8 * b);
                }
                counter.add(key);
            }
        }
    }
    counter.drain(out);
}

void BuiltinEmbedder::project(std::span<const Gram> grams,
                              const std::function<float(const Gram&)>& weight,
                              std::span<float> out) const {
    std::fill(out.begin(), out.end(), 0.0F);
    const std::uint64_t mask = static_cast<std::uint64_t>(dimension_) - 1;
    for (const auto& g : grams) {
        const float w = (1.0F + std::log(static_cast<float>(g.count))) * weight(g);
        out[g.hash & mask] += (g.hash >> 63) != 0 ? -w : w;
    }
    double norm = 0;
    for (const float x : out) norm += double{x} * x;
    if (norm <= 0) return;
    const auto scale = static_cast<float>(1.0 / std::sqrt(norm));
    for (float& x : out) x *= scale;
}

void BuiltinEmbedder::embed(std::span<const std::string_view> texts, std::span<float> out) const {
    const auto dim = static_cast<std::size_t>(dimension_);
    if (out.size() != texts.size() * dim) {
        throw Error(fmt::format("embed: {} floats for {} texts of {} dimensions", out.size(),
                                texts.size(), dim));
    }
    std::vector<Gram> g;
    for (std::size_t i = 0; i < texts.size(); ++i) {
        grams(texts[i], g);
        project(
            g, [](const Gram&) { return 1.0F; }, out.subspan(i * dim, dim));
    }
}

}  // namespace rk::embed

namespace rk {

std::unique_ptr<Embedder> make_embedder(std::string_view spec) {
    if (spec == "none") return nullptr;
    if (spec == "builtin") return std::make_unique<embed::BuiltinEmbedder>();
    if (spec.starts_with("builtin:")) {
        const std::string_view n = spec.substr(8);
        int dim = 0;
        const auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), dim);
        if (ec == std::errc() && end == n.data() + n.size()) {
            return std::make_unique<embed::BuiltinEmbedder>(dim);
        }
    }
    throw UsageError(
        fmt::format("unknown embedder '{}' (expected builtin, builtin:DIMENSION or none)", spec));
}

}  // namespace rk
