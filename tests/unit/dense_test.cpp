// A model's dense vectors as the index stores and scores them (vector/embedding.hpp).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>

#include "rk/error.hpp"
#include "store/sqlite.hpp"
#include "temp_dir.hpp"
#include "vector/embedding.hpp"

namespace {

// An embedder whose vector for a text is the numbers the text holds ("3 0 -1 ..."), zero
// filled to its dimension: what the index makes of vectors can be checked by hand.
class NumbersEmbedder final : public rk::Embedder {
  public:
    explicit NumbersEmbedder(int dimension) : dimension_(dimension) {}
    [[nodiscard]] std::string spec() const override { return "numbers"; }
    [[nodiscard]] int dimension() const override { return dimension_; }
    void embed(std::span<const std::string_view> texts, std::span<float> out) const override {
        const auto d = static_cast<std::size_t>(dimension_);
        std::fill(out.begin(), out.end(), 0.0F);
        for (std::size_t i = 0; i < texts.size(); ++i) {
            std::istringstream in{std::string(texts[i])};
            std::string word;
            for (std::size_t j = 0; j < d && in >> word; ++j) {
                out[i * d + j] =
                    word == "nan" ? std::numeric_limits<float>::quiet_NaN() : std::stof(word);
            }
        }
    }

  private:
    int dimension_;
};

std::string numbers(const std::vector<float>& v) {
    std::string s;
    for (const float x : v) s += std::to_string(x) + " ";
    return s;
}

std::vector<rk::vector::ChunkVector> stored(const rk::vector::Embedding& e,
                                            const std::vector<std::string>& texts) {
    const std::vector<std::string_view> views(texts.begin(), texts.end());
    std::vector<rk::vector::ChunkVector> out;
    e.embed(views, out);
    return out;
}

}  // namespace

TEST_CASE(
    "a model's vectors are stored as a code and the unit vector, and scored by their dot product") {
    const rk::test::TempDir dir;
    rk::store::Database db(dir.path / "x.db", rk::store::Database::Open::create);
    const auto e = rk::vector::dense_embedding(std::make_unique<NumbersEmbedder>(5));
    CHECK(e->bits() == 64);
    CHECK(e->stored_size() == 8 + 5 * 4);
    CHECK_FALSE(e->per_chunk());
    CHECK_FALSE(e->reads_text());

    const auto v = stored(*e, {"3 4 0 0 0", "0 0 0 0 2", "1 1 1 1 1"});
    REQUIRE(v.size() == 3);
    float first[5];
    std::memcpy(first, v[0].encoded.data() + 8, sizeof first);
    CHECK(first[0] == Approx(0.6));
    CHECK(first[1] == Approx(0.8));
    CHECK(first[2] == 0);

    const auto q = e->query(db, "0 1 0 0 0");
    REQUIRE_FALSE(q->empty());
    CHECK(*q->similarity({}, v[0].encoded) == Approx(0.8));
    CHECK(*q->similarity({}, v[1].encoded) == Approx(0.0));
    CHECK(*q->similarity({}, v[2].encoded) == Approx(1 / std::sqrt(5.0)));
    CHECK_FALSE(q->similarity({}, v[0].encoded.substr(1)).has_value());
    CHECK(e->query(db, "0 0 0 0 0")->empty());

    std::vector<std::string> problems;
    std::vector<std::int32_t> df;
    for (const auto& c : v) e->check(1, {}, c.encoded, problems, df);
    CHECK(problems.empty());
    std::string bad = v[0].encoded;
    bad[8 + 4 * 4 + 3] = 0x3F;  // the last component becomes about 0.5: no longer unit length
    e->check(7, {}, bad, problems, df);
    std::string flipped = v[2].encoded;
    flipped[0] = static_cast<char>(~flipped[0]);  // the code no longer the vector's
    e->check(8, {}, flipped, problems, df);
    e->check(9, {}, v[1].encoded.substr(2), problems, df);
    REQUIRE(problems.size() == 3);
    CHECK(problems[0] == "chunk 7's vector is not of unit length");
    CHECK(problems[1] == "chunk 8's code differs from its vector's");
    CHECK(problems[2] == "chunk 9's vector has 26 bytes, not 28");

    CHECK_THROWS_AS(stored(*e, {"1 nan 0 0 0"}), rk::Error);
}

TEST_CASE("a model's codes find a stored vector's nearest neighbours") {
    const rk::test::TempDir dir;
    rk::store::Database db(dir.path / "x.db", rk::store::Database::Open::create);
    constexpr int kDim = 300;
    const auto e = rk::vector::dense_embedding(std::make_unique<NumbersEmbedder>(kDim));
    CHECK(e->bits() == 512);
    std::mt19937 rng(7);
    std::normal_distribution<float> gauss;
    std::vector<std::string> texts;
    std::vector<std::vector<float>> raw;
    for (int i = 0; i < 200; ++i) {
        std::vector<float> x(kDim);
        for (auto& c : x) c = gauss(rng);
        raw.push_back(x);
        texts.push_back(numbers(x));
    }
    const auto v = stored(*e, texts);
    // Each vector, slightly moved, as a query: its own code scores best among all 200, and its
    // exact similarity is near 1.
    int own_best = 0;
    for (int i = 0; i < 20; ++i) {
        auto x = raw[static_cast<std::size_t>(i)];
        for (auto& c : x) c += 0.2F * gauss(rng);
        const auto q = e->query(db, numbers(x));
        std::size_t best = 0;
        float best_score = -std::numeric_limits<float>::infinity();
        for (std::size_t j = 0; j < v.size(); ++j) {
            const float s =
                q->codes().score(reinterpret_cast<const unsigned char*>(v[j].encoded.data()));
            if (s > best_score) {
                best_score = s;
                best = j;
            }
        }
        own_best += best == static_cast<std::size_t>(i) ? 1 : 0;
        CHECK(*q->similarity({}, v[static_cast<std::size_t>(i)].encoded) > 0.95);
    }
    CHECK(own_best == 20);
}

TEST_CASE("an embedder of no dimensions is refused") {
    CHECK_THROWS_AS(rk::vector::dense_embedding(std::make_unique<NumbersEmbedder>(0)), rk::Error);
}
