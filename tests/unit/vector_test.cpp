// The builtin embedder, the vector codec and the graph file.
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <random>

#include "embed/builtin.hpp"
#include "rk/error.hpp"
#include "temp_dir.hpp"
#include "vector/codec.hpp"
#include "vector/graph.hpp"

namespace {

std::vector<float> embed(const rk::Embedder& e, std::string_view text) {
    std::vector<float> v(static_cast<std::size_t>(e.dimension()));
    const std::string_view texts[] = {text};
    e.embed(texts, v);
    return v;
}

float cosine(const std::vector<float>& a, const std::vector<float>& b) {
    float sum = 0;
    for (std::size_t i = 0; i < a.size(); ++i) sum += a[i] * b[i];
    return sum;
}

std::vector<float> random_unit(std::mt19937& rng, std::size_t dim) {
    std::normal_distribution<float> normal;
    std::vector<float> v(dim);
    float norm = 0;
    for (auto& x : v) {
        x = normal(rng);
        norm += x * x;
    }
    for (auto& x : v) x /= std::sqrt(norm);
    return v;
}

}  // namespace

TEST_CASE("the builtin embedder is deterministic, unit length, and blind to stop words") {
    const auto e = rk::make_embedder("builtin");
    CHECK(e->spec() == "builtin");
    CHECK(e->dimension() == 4096);
    const auto a = embed(*e, "Exponential backoff for retrying connections");
    CHECK(a == embed(*e, "Exponential backoff for retrying connections"));
    CHECK(std::abs(cosine(a, a) - 1.0F) < 1e-5F);
    // Case and function words do not change the vector; other words do.
    CHECK(std::abs(cosine(a, embed(*e, "exponential BACKOFF retrying the connections")) - 1) <
          1e-5F);
    CHECK(cosine(a, embed(*e, "retry connection backoff")) > 0.4F);
    CHECK(cosine(a, embed(*e, "bread recipes with yeast")) < 0.1F);
    const auto none = embed(*e, "the of and, to -- !!");
    CHECK(std::all_of(none.begin(), none.end(), [](float x) { return x == 0; }));

    CHECK(rk::make_embedder("builtin:256")->dimension() == 256);
    CHECK(rk::make_embedder("builtin:256")->spec() == "builtin:256");
    CHECK(rk::make_embedder("builtin:4096")->spec() == "builtin");
    for (const char* bad : {"builtin:1000", "builtin:128", "builtin:x", "model2vec:/m", ""}) {
        CHECK_THROWS_AS(rk::make_embedder(bad), rk::UsageError);
    }
}

TEST_CASE("int8 vectors keep cosines to within a hundredth") {
    std::mt19937 rng(7);
    for (int i = 0; i < 50; ++i) {
        const auto a = random_unit(rng, 512), b = random_unit(rng, 512);
        const std::string ea = rk::vector::encode(a), eb = rk::vector::encode(b);
        REQUIRE(ea.size() == rk::vector::encoded_size(512));
        const float exact = cosine(a, b);
        CHECK(std::abs(rk::vector::FineQuery(a).dot(eb.data()) - exact) < 0.01F);
        CHECK(std::abs((1 - rk::vector::distance(ea.data(), eb.data(), 512)) - exact) < 0.01F);
    }
    const std::vector<float> zero(64, 0.0F);
    CHECK(rk::vector::FineQuery(zero).dot(rk::vector::encode(zero).data()) == 0.0F);
}

TEST_CASE("a graph file round-trips, and damage to it is refused") {
    const rk::test::TempDir dir;
    const auto file = dir.path / "vectors.hnsw";
    std::mt19937 rng(11);
    constexpr std::size_t dim = 256;
    std::vector<std::pair<std::int64_t, std::string>> items;
    for (std::int64_t i = 1; i <= 600; ++i) {
        items.emplace_back(i * 3, rk::vector::encode(random_unit(rng, dim)));
    }
    rk::vector::Graph g(dim, {}, 16);
    g.add(items, 2);
    g.remove(30);
    g.generation = 42;
    g.save(file);

    const auto loaded = rk::vector::Graph::load(file, dim);
    CHECK(loaded->generation == 42);
    CHECK(loaded->size() == 599);
    CHECK(loaded->deleted() == 1);
    CHECK_FALSE(loaded->contains(30));
    const auto query = rk::vector::encode(random_unit(rng, dim));
    CHECK(loaded->search(query, 10, 64) == g.search(query, 10, 64));
    // The nearest vector to a stored one is itself.
    CHECK(loaded->search(items[5].second, 1, 64).front().first == items[5].first);

    std::string bytes;
    {
        std::ifstream in(file, std::ios::binary);
        bytes.assign(std::istreambuf_iterator<char>(in), {});
    }
    auto damaged = [&](std::string content) {
        std::ofstream(file, std::ios::binary | std::ios::trunc) << content;
        return content;
    };
    damaged(bytes.substr(0, bytes.size() / 2));
    CHECK_THROWS_WITH(rk::vector::Graph::load(file, dim), Catch::Contains("truncated"));
    std::string flipped = bytes;
    flipped[bytes.size() / 2] ^= 0x10;
    damaged(flipped);
    CHECK_THROWS_WITH(rk::vector::Graph::load(file, dim), Catch::Contains("checksum"));
    damaged("not a graph at all, but long enough to hold a header of forty-eight bytes");
    CHECK_THROWS_WITH(rk::vector::Graph::load(file, dim), Catch::Contains("not an rk graph"));
    damaged("");
    CHECK_THROWS_AS(rk::vector::Graph::load(file, dim), rk::IndexError);
    damaged(bytes);
    CHECK_THROWS_WITH(rk::vector::Graph::load(file, 512), Catch::Contains("256 dimensions"));
    CHECK(rk::vector::Graph::load(file, dim)->size() == 599);
}
