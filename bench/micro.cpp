// Micro-benchmarks of the hot paths, with Google Benchmark. Run:
//   build/release/bench/rk_micro --benchmark_repetitions=5 --benchmark_report_aggregates_only
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "embed/builtin.hpp"
#include "ingest/chunker.hpp"
#include "ingest/readers.hpp"
#include "ingest/records.hpp"
#include "rk/index.hpp"
#include "rk/ingest.hpp"
#include "rk/json.hpp"
#include "rk/search.hpp"
#include "text/utf8.hpp"

namespace fs = std::filesystem;

namespace {

// Deterministic text with a Zipf-like vocabulary, paragraphs and sentences.
std::string make_text(std::size_t words, unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<std::string> vocab;
    for (int i = 0; i < 5000; ++i) {
        std::string word = "w";
        word.append(std::to_string(i * 7919 % 100003));
        vocab.push_back(std::move(word));
    }
    std::string out;
    for (std::size_t i = 0; i < words; ++i) {
        const double u = std::uniform_real_distribution<double>(0, 1)(rng);
        out += vocab[static_cast<std::size_t>(std::pow(u, 3.0) * 4999)];
        if (i % 17 == 16) out += '.';
        out += (i % 120 == 119) ? "\n\n" : " ";
    }
    return out;
}

// The builtin embedder's two costs: embedding a chunk at ingest (grams, their bag length and
// code), and scoring a candidate chunk's text exactly against a query.
void BM_EmbedChunk(benchmark::State& state) {
    const std::string text = make_text(150, 3);
    const rk::embed::BuiltinEmbedder embedder;
    std::vector<rk::embed::Gram> grams;
    std::vector<float> projection(static_cast<std::size_t>(embedder.dimension()));
    for (auto _ : state) {
        rk::embed::BuiltinEmbedder::grams(text, grams);
        embedder.project(
            grams, [](const rk::embed::Gram&) { return 1.0F; }, projection);
        benchmark::DoNotOptimize(rk::embed::BuiltinEmbedder::norm(grams));
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_EmbedChunk);

void BM_ExactCosine(benchmark::State& state) {
    std::vector<std::string> texts;
    for (unsigned i = 0; i < 64; ++i) texts.push_back(make_text(150, 10 + i));
    std::vector<rk::embed::Gram> grams;
    rk::embed::BuiltinEmbedder::grams(make_text(12, 4), grams);
    const rk::embed::ExactQuery query(grams, [](const rk::embed::Gram&) { return 1.0F; });
    std::size_t i = 0, bytes = 0;
    for (auto _ : state) {
        const auto& text = texts[i++ % texts.size()];
        benchmark::DoNotOptimize(query.cosine(text, 20.0F));
        bytes += text.size();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(BM_ExactCosine);

void BM_ReadText(benchmark::State& state) {
    const std::string text = make_text(10000, 1);
    for (auto _ : state) benchmark::DoNotOptimize(rk::inputs::read_text(text));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_ReadText);

void BM_Chunk(benchmark::State& state) {
    const std::string text = make_text(10000, 2);
    const auto parsed = rk::inputs::read_text(text);
    for (auto _ : state) {
        benchmark::DoNotOptimize(rk::inputs::make_chunks(text, parsed.segments, 512, 64));
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_Chunk);

void BM_Utf8Validate(benchmark::State& state) {
    std::string text = make_text(10000, 3) + "caf\xC3\xA9 \xE2\x82\xAC";
    for (auto _ : state) benchmark::DoNotOptimize(rk::text::utf8_first_invalid(text));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_Utf8Validate);

void BM_ParseRecord(benchmark::State& state) {
    rk::JsonWriter w;
    w.begin_object().key("_id").value("doc-12345").key("title").value("A title");
    w.key("text").value(make_text(200, 4)).key("metadata").begin_object().end_object();
    w.end_object();
    const std::string line = w.take();
    rk::inputs::RecordParser parser;
    const rk::inputs::RecordFields fields;
    for (auto _ : state) benchmark::DoNotOptimize(parser.parse_object(line, fields, {}));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * line.size()));
}
BENCHMARK(BM_ParseRecord);

void BM_JsonHits(benchmark::State& state) {
    const std::string snippet = make_text(30, 5);
    for (auto _ : state) {
        rk::JsonWriter w;
        w.begin_array();
        for (int i = 0; i < 10; ++i) {
            w.begin_object().key("rank").value(i + 1).key("id").value("doc-1").key("score");
            w.value(12.5 - i).key("title").value("A title").key("snippet").value(snippet);
            w.end_object();
        }
        w.end_array();
        benchmark::DoNotOptimize(w.str());
    }
}
BENCHMARK(BM_JsonHits);

// BM25 top-10 over an index of 2,000 generated documents, built once.
class SearchFixture : public benchmark::Fixture {
  public:
    void SetUp(const benchmark::State&) override {
        if (index_) return;
        std::string name = "rk-micro-";
        name.append(std::to_string(std::random_device{}()));
        dir_ = fs::temp_directory_path() / name;
        fs::create_directories(dir_);
        {
            std::string jsonl;
            for (int i = 0; i < 2000; ++i) {
                rk::JsonWriter w;
                w.begin_object().key("_id").value(std::to_string(i));
                w.key("text").value(make_text(150, static_cast<unsigned>(i))).end_object();
                jsonl.append(w.str());
                jsonl.push_back('\n');
            }
            std::FILE* f = std::fopen((dir_ / "c.jsonl").c_str(), "wb");
            if (f == nullptr) return;
            std::fwrite(jsonl.data(), 1, jsonl.size(), f);
            std::fclose(f);
        }
        auto index = rk::Index::create(dir_ / "idx", {});
        rk::IngestOptions o;
        o.paths = {(dir_ / "c.jsonl").string()};
        rk::ingest(index, o);
        index_ = std::make_unique<rk::Index>(std::move(index));
    }
    void TearDown(const benchmark::State&) override {}
    ~SearchFixture() override {
        index_.reset();
        std::error_code ec;
        if (!dir_.empty()) fs::remove_all(dir_, ec);
    }
    SearchFixture() = default;
    SearchFixture(const SearchFixture&) = delete;
    SearchFixture& operator=(const SearchFixture&) = delete;

  protected:
    std::unique_ptr<rk::Index> index_;
    fs::path dir_;
};

BENCHMARK_DEFINE_F(SearchFixture, BM25Top10)(benchmark::State& state) {
    rk::Query q;
    q.k = 10;
    q.snippets = state.range(0) != 0;
    const char* queries[] = {"w0 w7919 w15838", "w23757 w31676", "w39595 w47514 w55433 w63352"};
    std::size_t i = 0;
    for (auto _ : state) {
        q.text = queries[i++ % 3];
        benchmark::DoNotOptimize(rk::search(*index_, q));
    }
}
BENCHMARK_REGISTER_F(SearchFixture, BM25Top10)->Arg(0)->Arg(1)->ArgName("snippets");

}  // namespace

BENCHMARK_MAIN();
