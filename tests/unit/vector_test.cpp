// The builtin embedder, the codes and the graph file.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <fstream>
#include <random>

#include "embed/builtin.hpp"
#include "rk/error.hpp"
#include "temp_dir.hpp"
#include "vector/codec.hpp"
#include "vector/graph.hpp"
#include "vector/graph_format.hpp"

namespace {

using rk::embed::BuiltinEmbedder;
using rk::embed::Gram;

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

// The exact cosine of two texts' bags, the query's grams weighted by `idf`, computed from the
// grams directly rather than by scanning text as ExactQuery does.
double reference_cosine(std::string_view query, std::string_view text,
                        const std::function<float(const Gram&)>& idf) {
    std::vector<Gram> q, t;
    BuiltinEmbedder::grams(query, q);
    BuiltinEmbedder::grams(text, t);
    double dot = 0, qq = 0;
    for (const auto& g : q) {
        const double w = rk::embed::gram_weight(g.count) * idf(g);
        qq += w * w;
        for (const auto& h : t) {
            if (h.hash == g.hash) dot += w * rk::embed::gram_weight(h.count);
        }
    }
    return dot / std::sqrt(qq) / BuiltinEmbedder::norm(t);
}

std::string random_code(std::mt19937& rng, std::size_t bytes) {
    std::string code(bytes, '\0');
    for (auto& c : code) c = static_cast<char>(rng() & 0xFF);
    return code;
}

std::vector<float> random_projection(std::mt19937& rng, std::size_t bits) {
    std::normal_distribution<float> normal;
    std::vector<float> v(bits);
    for (auto& x : v) x = normal(rng);
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
    // Case and function words do not change the projection; other words do.
    CHECK(std::abs(cosine(a, embed(*e, "exponential BACKOFF retrying the connections")) - 1) <
          1e-5F);
    CHECK(cosine(a, embed(*e, "retry connection backoff")) > 0.4F);
    CHECK(std::abs(cosine(a, embed(*e, "bread recipes with yeast"))) < 0.15F);
    const auto none = embed(*e, "the of and, to -- !!");
    CHECK(std::all_of(none.begin(), none.end(), [](float x) { return x == 0; }));

    CHECK(rk::make_embedder("builtin:256")->dimension() == 256);
    CHECK(rk::make_embedder("builtin:256")->spec() == "builtin:256");
    CHECK(rk::make_embedder("builtin:4096")->spec() == "builtin");
    CHECK(rk::make_embedder("none") == nullptr);
    for (const char* bad : {"builtin:1000", "builtin:128", "builtin:x", "word2vec:/m",
                            "model2vec:", "openai:http://h/v1", ""}) {
        CHECK_THROWS_AS(rk::make_embedder(bad), rk::UsageError);
    }
    try {
        (void)rk::make_embedder("model2vec:/nowhere/m");
        FAIL("a missing model directory was taken");
    } catch (const rk::Error& error) {
        CHECK(error.message() == "/nowhere/m: no such model directory");
    }
}

TEST_CASE("the exact cosine of bags agrees with one computed from the grams") {
    std::vector<Gram> grams;
    const std::string query = "Retrying connections, exponential backoff";
    BuiltinEmbedder::grams(query, grams);
    auto idf = [](const Gram& g) { return 1.0F + static_cast<float>(g.hash % 7); };
    const rk::embed::ExactQuery exact(grams, idf);
    REQUIRE_FALSE(exact.empty());
    for (const std::string_view text :
         {"Retrying connections with exponential backoff after a failure",
          "backoff backoff backoff: the connection is retried", "bread recipes with yeast",
          "RETRYING Connections"}) {
        std::vector<Gram> t;
        BuiltinEmbedder::grams(text, t);
        CHECK(exact.cosine(text, BuiltinEmbedder::norm(t)) ==
              Approx(reference_cosine(query, text, idf)).margin(1e-6));
    }
    // With weights of 1, a text is at cosine 1 with itself.
    BuiltinEmbedder::grams("exponential backoff", grams);
    const rk::embed::ExactQuery plain(grams, [](const Gram&) { return 1.0F; });
    CHECK(plain.cosine("Exponential BACKOFF", BuiltinEmbedder::norm(grams)) ==
          Approx(1.0).margin(1e-6));
    CHECK(plain.cosine("yeast", 3.0F) == 0.0);
    BuiltinEmbedder::grams("the and of", grams);
    CHECK(rk::embed::ExactQuery(grams, [](const Gram&) { return 1.0F; }).empty());
}

TEST_CASE("codes keep the signs of the projection, and the scorer sums them") {
    std::mt19937 rng(7);
    const auto p = random_projection(rng, 256);
    const std::string stored = rk::vector::encode(p, 3.5F);
    REQUIRE(stored.size() == rk::vector::stored_size(256));
    CHECK(rk::vector::stored_norm(stored, 256) == 3.5F);
    const auto* code = reinterpret_cast<const unsigned char*>(stored.data());
    for (std::size_t i = 0; i < p.size(); ++i) {
        CHECK(((code[i / 8] >> (i % 8)) & 1) == (p[i] > 0 ? 1 : 0));
    }
    CHECK(rk::vector::hamming(code, code, 32) == 0);
    // The scorer sums the query's components quantised to 16 even steps from its least to
    // its greatest, each with the sign the code gives it.
    const auto q = random_projection(rng, 256);
    const float lo = std::min(0.0F, *std::min_element(q.begin(), q.end()));
    const float hi = std::max(0.0F, *std::max_element(q.begin(), q.end()));
    const float step = (hi - lo) / 15;
    double expected = 0;
    for (std::size_t i = 0; i < q.size(); ++i) {
        const double quantised = lo + step * std::round((q[i] - lo) / step);
        expected += p[i] > 0 ? quantised : -quantised;
    }
    CHECK(rk::vector::CodeScorer(q).score(code) == Approx(expected).margin(1e-3));
    // A projection scores its own code best among random ones.
    const rk::vector::CodeScorer own(p);
    for (int i = 0; i < 20; ++i) {
        const auto other = rk::vector::encode(random_projection(rng, 256), 1);
        CHECK(own.score(reinterpret_cast<const unsigned char*>(other.data())) < own.score(code));
    }
}

TEST_CASE("a graph file round-trips, is searched in place, and damage to it is found") {
    const rk::test::TempDir dir;
    const auto file = dir.path / "vectors.hnsw";
    std::mt19937 rng(11);
    constexpr std::size_t bits = 256;
    std::vector<std::pair<std::int64_t, std::string>> items;
    for (std::int64_t i = 1; i <= 600; ++i) items.emplace_back(i * 3, random_code(rng, bits / 8));
    rk::vector::Graph g(bits, {}, 16);
    g.add(items, 2);
    g.remove(30);
    g.generation = 42;
    g.save(file);

    const auto loaded = rk::vector::Graph::load(file, bits);
    CHECK(loaded->generation == 42);
    CHECK(loaded->size() == 599);
    CHECK(loaded->deleted() == 1);
    CHECK(loaded->code(30) == nullptr);
    CHECK(loaded->knows(30));
    const auto mapped = rk::vector::GraphFile::open(file, bits);
    CHECK(mapped->generation() == 42);
    CHECK(mapped->size() == 599);
    const rk::vector::CodeScorer query(random_projection(rng, bits));
    auto same = [](const rk::vector::Found& a, const rk::vector::Found& b) {
        return a.scored == b.scored &&
               std::equal(a.nearest.begin(), a.nearest.end(), b.nearest.begin(), b.nearest.end(),
                          [](const auto& x, const auto& y) {
                              return x.label == y.label && x.score == y.score;
                          });
    };
    const auto result = g.search(query, 10, 64);
    const auto& found = result.nearest;
    REQUIRE(found.size() == 10);
    CHECK(result.scored >= 10);
    CHECK(same(result, loaded->search(query, 10, 64)));
    CHECK(same(result, mapped->search(query, 10, 64)));
    CHECK(std::is_sorted(found.begin(), found.end(),
                         [](const auto& a, const auto& b) { return a.score > b.score; }));
    // Removed nodes are passed through, never returned.
    for (const auto& n : mapped->search(query, 600, 600).nearest) CHECK(n.label != 30);

    std::string bytes;
    {
        std::ifstream in(file, std::ios::binary);
        bytes.assign(std::istreambuf_iterator<char>(in), {});
    }
    auto damaged = [&](const std::string& content) {
        std::ofstream(file, std::ios::binary | std::ios::trunc) << content;
    };
    damaged(bytes.substr(0, bytes.size() / 2));
    CHECK_THROWS_WITH(rk::vector::Graph::load(file, bits), Catch::Contains("truncated"));
    CHECK_THROWS_WITH(rk::vector::GraphFile::open(file, bits), Catch::Contains("truncated"));
    // A flipped bit in a node's code: reading the whole file finds it; a mapped search finds it
    // when it reaches the node, as a search for that very code does.
    std::string flipped = bytes;
    const std::size_t node_bytes = 4 + 4 * 32 + bits / 8 + 8;
    flipped[128 + 5 * node_bytes + 4 + 4 * 32 + 3] ^= 0x10;  // node 5, in its code
    damaged(flipped);
    CHECK_THROWS_WITH(rk::vector::Graph::load(file, bits), Catch::Contains("checksum"));
    const auto hurt = rk::vector::GraphFile::open(file, bits);
    std::vector<float> near(bits);
    for (std::size_t i = 0; i < bits; ++i) {
        near[i] =
            ((static_cast<unsigned char>(items[5].second[i / 8]) >> (i % 8)) & 1) != 0 ? 1 : -1;
    }
    CHECK_THROWS_AS(hurt->search(rk::vector::CodeScorer(near), 10, 600), rk::vector::GraphDamage);
    flipped = bytes;
    flipped[20] ^= 0x01;  // in the header
    damaged(flipped);
    CHECK_THROWS_WITH(rk::vector::GraphFile::open(file, bits), Catch::Contains("header checksum"));
    damaged(
        "not a graph at all, but long enough to hold a header of a hundred and twenty-eight "
        "bytes, which takes a sentence of some length to reach, like this one does now");
    CHECK_THROWS_WITH(rk::vector::Graph::load(file, bits), Catch::Contains("not an rk graph"));
    CHECK_THROWS_WITH(rk::vector::GraphFile::open(file, bits), Catch::Contains("not an rk graph"));
    damaged("");
    CHECK_THROWS_AS(rk::vector::Graph::load(file, bits), rk::IndexError);
    CHECK_THROWS_AS(rk::vector::GraphFile::open(file, bits), rk::IndexError);
    damaged(bytes);
    CHECK_THROWS_WITH(rk::vector::Graph::load(file, 512), Catch::Contains("256 bits"));
    CHECK_THROWS_WITH(rk::vector::GraphFile::open(file, 512), Catch::Contains("256 bits"));
    CHECK(rk::vector::Graph::load(file, bits)->size() == 599);
    CHECK(rk::vector::file_generation(file) == 42);
}

TEST_CASE("a graph file's counts are checked against its size before anything is made of them") {
    // Found by fuzzing: a damaged node count made Graph::load allocate for two billion nodes
    // before it checked the sections, and a list count whose size overflowed passed for a
    // small section.
    const rk::test::TempDir dir;
    const auto file = dir.path / "vectors.hnsw";
    std::mt19937 rng(5);
    constexpr std::size_t bits = 64;
    std::vector<std::pair<std::int64_t, std::string>> items;
    for (std::int64_t i = 1; i <= 40; ++i) items.emplace_back(i, random_code(rng, bits / 8));
    rk::vector::Graph g(bits, {}, 16);
    g.add(items, 1);
    g.save(file);
    std::string bytes;
    {
        std::ifstream in(file, std::ios::binary);
        bytes.assign(std::istreambuf_iterator<char>(in), {});
    }
    namespace format = rk::vector::format;
    auto with_header = [&](auto change) {
        format::Header h{};
        std::memcpy(&h, bytes.data(), sizeof h);
        change(h);
        h.header_sum = format::header_sum(h);  // as a writer would have summed it
        std::string damaged = bytes;
        std::memcpy(damaged.data(), &h, sizeof h);
        std::ofstream(file, std::ios::binary | std::ios::trunc) << damaged;
    };
    with_header([](format::Header& h) { h.count = std::uint64_t{1} << 31; });
    CHECK_THROWS_WITH(rk::vector::Graph::load(file, bits), Catch::Contains("bad section"));
    CHECK_THROWS_WITH(rk::vector::GraphFile::open(file, bits), Catch::Contains("bad section"));
    // upper_bytes is 68 (16 links a list): 2^62 more lists add 17 * 2^64 bytes, nothing in
    // 64-bit arithmetic.
    with_header([](format::Header& h) { h.upper_count += std::uint64_t{1} << 62; });
    CHECK_THROWS_WITH(rk::vector::Graph::load(file, bits), Catch::Contains("bad section"));
    CHECK_THROWS_WITH(rk::vector::GraphFile::open(file, bits), Catch::Contains("bad section"));
    with_header([](format::Header&) {});
    CHECK(rk::vector::Graph::load(file, bits)->size() == 40);
}
