#include "embed/model2vec.hpp"

#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "rk/error.hpp"
#include "temp_dir.hpp"

using rk::embed::Model2VecEmbedder;
namespace fs = std::filesystem;

namespace {

// The test model's row for token id `i`: small integers, exact in F32, F16 and I8, so that
// every dtype gives the same vectors.
std::vector<float> row(int i) {
    return {static_cast<float>(i % 5 - 2), static_cast<float>(i),
            static_cast<float>((7 * i) % 11 - 5)};
}
constexpr int kDim = 3;

// The WordPiece vocabulary, in id order.
constexpr std::array<std::string_view, 13> kWordPieces = {"[PAD]", "[UNK]",  "[CLS]", "[SEP]", "un",
                                                          "##aff", "##able", "the",   "cafe",  ".",
                                                          "hello", "##s",    "a"};

// The Unigram vocabulary with scores, in id order.
constexpr auto kUnigram =
    std::to_array<std::pair<std::string_view, double>>({{"<unk>", 0.0},
                                                        {"\xE2\x96\x81hello", -1.0},
                                                        {"\xE2\x96\x81he", -2.0},
                                                        {"llo", -2.0},
                                                        {"\xE2\x96\x81", -3.0},
                                                        {"h", -4.0},
                                                        {"e", -4.0},
                                                        {"l", -4.0},
                                                        {"o", -4.0},
                                                        {"\xE2\x96\x81world", -1.5}});

void write(const fs::path& file, const std::string& bytes) {
    std::ofstream out(file, std::ios::binary);
    out << bytes;
}

std::uint16_t to_half(float f) {
    if (f == 0) return 0;
    const std::uint16_t sign = f < 0 ? 0x8000 : 0;
    int exp = 0;
    const float m = std::frexp(std::fabs(f), &exp);  // f = m * 2^exp, m in [0.5, 1)
    const auto mantissa = static_cast<std::uint16_t>(std::lround((m * 2 - 1) * 1024));
    return static_cast<std::uint16_t>(sign | ((exp - 1 + 15) << 10) | mantissa);
}

// A safetensors file with one tensor "embeddings" of `rows` rows, in `dtype`.
// A tensor beside the embeddings: its name, dtype, shape ("[13]") and bytes.
struct Extra {
    std::string name, dtype, shape, bytes;
};

template <typename T>
std::string bytes_of(const std::vector<T>& values) {
    std::string out;
    for (const T& v : values) out.append(reinterpret_cast<const char*>(&v), sizeof v);
    return out;
}

// A safetensors file with the tensor "embeddings" of `rows` rows in `dtype`, then `extras`.
std::string safetensors(const std::string& dtype, int rows, const std::vector<Extra>& extras = {}) {
    std::string data;
    for (int i = 0; i < rows; ++i) {
        for (float v : row(i)) {
            if (dtype == "F32") {
                data += bytes_of(std::vector<float>{v});
            } else if (dtype == "F16") {
                data += bytes_of(std::vector<std::uint16_t>{to_half(v)});
            } else {
                data.push_back(static_cast<char>(static_cast<std::int8_t>(v)));
            }
        }
    }
    std::string header = R"({"__metadata__":{"format":"pt"},"embeddings":{"dtype":")" + dtype +
                         R"(","shape":[)" + std::to_string(rows) + "," + std::to_string(kDim) +
                         R"(],"data_offsets":[0,)" + std::to_string(data.size()) + "]}";
    for (const Extra& x : extras) {
        header += ",\"" + x.name + R"(":{"dtype":")" + x.dtype + R"(","shape":)" + x.shape +
                  R"(,"data_offsets":[)" + std::to_string(data.size()) + "," +
                  std::to_string(data.size() + x.bytes.size()) + "]}";
        data += x.bytes;
    }
    header += "}";
    std::string out(8, '\0');
    const std::uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
    return out + header + data;
}

std::string wordpiece_tokenizer() {
    std::string vocab;
    for (std::size_t i = 0; i < kWordPieces.size(); ++i) {
        if (i > 0) vocab += ',';
        vocab.append("\"").append(kWordPieces[i]).append("\":").append(std::to_string(i));
    }
    return R"({"version":"1.0","added_tokens":[{"id":2,"content":"[CLS]","single_word":false,)"
           R"("lstrip":false,"rstrip":false,"normalized":false,"special":true}],)"
           R"("normalizer":{"type":"BertNormalizer",)"
           R"("clean_text":true,"handle_chinese_chars":true,"strip_accents":null,"lowercase":true},)"
           R"("pre_tokenizer":{"type":"BertPreTokenizer"},"post_processor":null,"decoder":null,)"
           R"("model":{"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"##",)"
           R"("max_input_chars_per_word":100,"vocab":{)" +
           vocab + "}}}";
}

std::string unigram_tokenizer() {
    std::string vocab;
    for (std::size_t i = 0; i < kUnigram.size(); ++i) {
        if (i > 0) vocab += ',';
        vocab.append("[\"").append(kUnigram[i].first).append("\",");
        vocab.append(std::to_string(kUnigram[i].second)).append("]");
    }
    return R"({"normalizer":{"type":"Sequence","normalizers":[{"type":"NFKC"},{"type":"Lowercase"}]},)"
           R"("pre_tokenizer":{"type":"Metaspace","replacement":"\u2581","prepend_scheme":"always",)"
           R"("split":true},"model":{"type":"Unigram","unk_id":0,"byte_fallback":false,"vocab":[)" +
           vocab + "]}}";
}

void write_model(const fs::path& dir, const std::string& dtype, bool unigram = false) {
    fs::create_directories(dir);
    const int rows = static_cast<int>(unigram ? kUnigram.size() : kWordPieces.size());
    write(dir / "model.safetensors", safetensors(dtype, rows));
    write(dir / "tokenizer.json", unigram ? unigram_tokenizer() : wordpiece_tokenizer());
    write(dir / "config.json", R"({"model_type":"model2vec","normalize":true})");
}

// The unit-length mean of the rows of `ids`, or zeros.
std::vector<float> expected(const std::vector<int>& ids) {
    std::vector<double> sum(kDim);
    for (int id : ids) {
        const auto r = row(id);
        for (int j = 0; j < kDim; ++j) sum[j] += r[j];
    }
    double norm = 0;
    for (double v : sum) norm += v * v;
    norm = std::sqrt(norm);
    std::vector<float> out(kDim);
    for (int j = 0; j < kDim; ++j) out[j] = norm > 0 ? static_cast<float>(sum[j] / norm) : 0.F;
    return out;
}

std::vector<float> embed(const Model2VecEmbedder& e, std::string_view text) {
    std::vector<float> out(kDim);
    e.embed({&text, 1}, out);
    return out;
}

void check_close(const std::vector<float>& got, const std::vector<float>& want, double eps) {
    REQUIRE(got.size() == want.size());
    for (std::size_t j = 0; j < got.size(); ++j) CHECK(got[j] == Approx(want[j]).margin(eps));
}

// The error that constructing an embedder over `dir` throws.
rk::Error error_for(const fs::path& dir) {
    try {
        Model2VecEmbedder e(dir);
    } catch (const rk::Error& err) {
        return err;
    }
    FAIL("no error for " << dir);
    return rk::Error("");
}

}  // namespace

TEST_CASE("model2vec: WordPiece model pools the rows of its tokens", "[model2vec]") {
    rk::test::TempDir tmp;
    for (const std::string dtype : {"F32", "F16", "I8"}) {
        CAPTURE(dtype);
        const fs::path dir = tmp.path / dtype;
        write_model(dir, dtype);
        const Model2VecEmbedder e(dir);
        CHECK(e.dimension() == kDim);
        CHECK(e.spec() == "model2vec:" + fs::absolute(dir).lexically_normal().string());
        CHECK(e.token_ids("unaffable") == std::vector<std::uint32_t>{4, 5, 6});
        // Upper case and accents fold; the unknown word is dropped; "." stands alone.
        CHECK(e.token_ids("The  XYZZY CAF\xC3\x89.") == std::vector<std::uint32_t>{7, 8, 9});
        CHECK(e.token_ids("hellos unaff") == std::vector<std::uint32_t>{10, 11, 4, 5});
        const double eps = dtype == "F32" ? 1e-5 : 1e-3;
        check_close(embed(e, "unaffable"), expected({4, 5, 6}), eps);
        check_close(embed(e, "The  XYZZY CAF\xC3\x89."), expected({7, 8, 9}), eps);
        check_close(embed(e, "a a hello"), expected({12, 12, 10}), eps);
        // Nothing known: all zero.
        check_close(embed(e, "zzz qqq"), {0, 0, 0}, 0);
        check_close(embed(e, ""), {0, 0, 0}, 0);
    }
}

TEST_CASE("model2vec: special tokens in the text are matched before normalising", "[model2vec]") {
    rk::test::TempDir tmp;
    write_model(tmp.path, "F32");
    const Model2VecEmbedder e(tmp.path);
    CHECK(e.token_ids("the[CLS]hello") == std::vector<std::uint32_t>{7, 2, 10});
    CHECK(e.token_ids("[CLS]") == std::vector<std::uint32_t>{2});
    CHECK(e.token_ids("[cls] a") == std::vector<std::uint32_t>{12});  // "[", "cls", "]" unknown
}

TEST_CASE("model2vec: the spec names the directory however it was written", "[model2vec]") {
    rk::test::TempDir tmp;
    write_model(tmp.path / "m", "F32");
    const Model2VecEmbedder a(tmp.path / "m");
    const Model2VecEmbedder b(tmp.path / "m" / "." / "");
    CHECK(a.spec() == b.spec());
    CHECK(rk::embed::make_model2vec((tmp.path / "m").string())->spec() == a.spec());
}

TEST_CASE("model2vec: Unigram model with Metaspace keeps its unknown piece", "[model2vec]") {
    rk::test::TempDir tmp;
    write_model(tmp.path, "F32", true);
    const Model2VecEmbedder e(tmp.path);
    CHECK(e.token_ids("Hello World") == std::vector<std::uint32_t>{1, 9});
    // "▁hellx": ▁he l l, then x matches nothing and is the unknown piece (Unigram has no
    // unk_token for model2vec to drop).
    CHECK(e.token_ids("hellx") == std::vector<std::uint32_t>{2, 7, 7, 0});
    check_close(embed(e, "Hello World"), expected({1, 9}), 1e-5);
    check_close(embed(e, "hellx"), expected({2, 7, 7, 0}), 1e-5);
}

TEST_CASE("model2vec: many texts at once equal one at a time", "[model2vec]") {
    rk::test::TempDir tmp;
    write_model(tmp.path, "F16");
    const Model2VecEmbedder e(tmp.path);
    const std::vector<std::string> words = {"unaffable", "the", "cafe.", "zzz", "hellos", "a"};
    std::vector<std::string> texts;
    texts.reserve(500);
    for (int i = 0; i < 500; ++i) {
        texts.push_back(words[i % words.size()] + " " + words[(i / 7) % words.size()]);
    }
    const std::vector<std::string_view> views(texts.begin(), texts.end());
    std::vector<float> all(texts.size() * kDim);
    e.embed(views, all);
    for (std::size_t i = 0; i < texts.size(); ++i) {
        const auto one = embed(e, texts[i]);
        for (int j = 0; j < kDim; ++j) CHECK(one[j] == all[i * kDim + j]);
    }
    std::vector<float> wrong(kDim);
    CHECK_THROWS_AS(e.embed(views, wrong), rk::Error);
}

TEST_CASE("model2vec: a text is cut at 512 tokens", "[model2vec]") {
    rk::test::TempDir tmp;
    write_model(tmp.path, "F32");
    const Model2VecEmbedder e(tmp.path);
    std::string text;
    for (int i = 0; i < 600; ++i) text += "the ";
    CHECK(e.token_ids(text).size() == Model2VecEmbedder::kMaxTokens);
}

TEST_CASE("model2vec: each bad file is named in its error", "[model2vec]") {
    rk::test::TempDir tmp;
    const fs::path dir = tmp.path / "m";
    auto fresh = [&] {
        fs::remove_all(dir);
        write_model(dir, "F32");
    };
    auto where = [&](const std::string& file) { return (dir / file).string(); };

    CHECK(error_for(tmp.path / "absent").where() == (tmp.path / "absent").string());
    for (const std::string file : {"model.safetensors", "tokenizer.json", "config.json"}) {
        fresh();
        fs::remove(dir / file);
        CHECK(error_for(dir).where() == where(file));
    }
    fresh();
    write(dir / "tokenizer.json", "{\"model\": [1, 2");
    CHECK(error_for(dir).where() == where("tokenizer.json"));
    fresh();
    write(dir / "config.json", "normalize");
    CHECK(error_for(dir).where() == where("config.json"));
    fresh();
    write(dir / "config.json", R"({"normalize": "yes"})");
    CHECK(error_for(dir).where() == where("config.json"));

    // Unsupported components are named.
    fresh();
    std::string tok = wordpiece_tokenizer();
    tok.replace(tok.find("\"WordPiece\""), 11, "\"BPE\"");
    write(dir / "tokenizer.json", tok);
    auto err = error_for(dir);
    CHECK(err.where() == where("tokenizer.json"));
    CHECK_THAT(err.what(), Catch::Contains("BPE"));
    fresh();
    tok = wordpiece_tokenizer();
    tok.replace(tok.find("\"BertPreTokenizer\""), 18, "\"ByteLevel\"");
    write(dir / "tokenizer.json", tok);
    CHECK_THAT(error_for(dir).what(), Catch::Contains("ByteLevel"));

    // Safetensors headers that lie.
    const std::string good = safetensors("F32", static_cast<int>(kWordPieces.size()));
    fresh();
    std::string bytes = good;
    bytes[6] = '\x01';  // a header length far beyond the file
    write(dir / "model.safetensors", bytes);
    CHECK(error_for(dir).where() == where("model.safetensors"));
    fresh();
    write(dir / "model.safetensors", good.substr(0, good.size() - 4));  // data cut short
    CHECK(error_for(dir).where() == where("model.safetensors"));
    fresh();
    write(dir / "model.safetensors", "abc");
    CHECK(error_for(dir).where() == where("model.safetensors"));
    fresh();
    bytes = good;
    bytes.replace(bytes.find("[13,3]"), 6, "[14,3]");  // shape wants more than the offsets
    write(dir / "model.safetensors", bytes);
    CHECK(error_for(dir).where() == where("model.safetensors"));
    fresh();
    bytes = good;
    bytes.replace(bytes.find("\"F32\""), 5, "\"I32\"");
    write(dir / "model.safetensors", bytes);
    CHECK_THAT(error_for(dir).what(), Catch::Contains("I32"));
    fresh();
    write(dir / "model.safetensors", safetensors("F32", 12));  // a row short of the vocab
    CHECK(error_for(dir).where() == where("tokenizer.json"));
}

TEST_CASE("model2vec: weights scale and a mapping picks each token's row", "[model2vec]") {
    rk::test::TempDir tmp;
    write_model(tmp.path, "F32");
    // Vocabulary quantised to 4 rows: token id t uses row t % 4, weighted by 1 + t / 4.
    std::vector<std::int64_t> mapping;
    std::vector<double> weights;
    for (std::size_t t = 0; t < kWordPieces.size(); ++t) {
        mapping.push_back(static_cast<std::int64_t>(t % 4));
        weights.push_back(1.0 + static_cast<double>(t) / 4);
    }
    std::string shape = "[";
    shape.append(std::to_string(kWordPieces.size())).append("]");
    write(tmp.path / "model.safetensors",
          safetensors("F32", 4,
                      {{"weights", "F64", shape, bytes_of(weights)},
                       {"mapping", "I64", shape, bytes_of(mapping)}}));
    const Model2VecEmbedder e(tmp.path);
    // "unaffable": tokens 4, 5, 6 -> rows 0, 1, 2 with weights 2, 2.25, 2.5.
    std::vector<double> sum(kDim);
    for (const auto& [r, w] : {std::pair{0, 2.0}, {1, 2.25}, {2, 2.5}}) {
        for (int j = 0; j < kDim; ++j) sum[j] += w * row(r)[j];
    }
    const double norm = std::sqrt(sum[0] * sum[0] + sum[1] * sum[1] + sum[2] * sum[2]);
    check_close(embed(e, "unaffable"),
                {static_cast<float>(sum[0] / norm), static_cast<float>(sum[1] / norm),
                 static_cast<float>(sum[2] / norm)},
                1e-5);

    mapping[3] = 4;  // a row the matrix lacks
    write(tmp.path / "model.safetensors",
          safetensors("F32", 4, {{"mapping", "I64", shape, bytes_of(mapping)}}));
    CHECK(error_for(tmp.path).where() == (tmp.path / "model.safetensors").string());
}

TEST_CASE("model2vec: without normalize the vector is the mean", "[model2vec]") {
    rk::test::TempDir tmp;
    write_model(tmp.path, "F32");
    write(tmp.path / "config.json", R"({"normalize": false})");
    const Model2VecEmbedder e(tmp.path);
    // Rows 12, 12 and 10: (0, 12, 2), (0, 12, 2), (-2, 10, -1).
    check_close(embed(e, "a a hello"), {-2.0F / 3, 34.0F / 3, 1.0F}, 1e-5);
}

TEST_CASE("model2vec: Unigram falls back to bytes when its vocabulary has them", "[model2vec]") {
    rk::test::TempDir tmp;
    write_model(tmp.path, "F32", true);
    std::string tok = unigram_tokenizer();
    tok.replace(tok.find("\"byte_fallback\":false"), 21, "\"byte_fallback\":true");
    // Pieces for the bytes of "x" and "é" (C3 A9) after the others: ids 10, 11, 12.
    tok.replace(tok.rfind("]}}"), 3, R"(,["<0x78>",-5.0],["<0xC3>",-5.0],["<0xA9>",-5.0]]}})");
    write(tmp.path / "tokenizer.json", tok);
    write(tmp.path / "model.safetensors", safetensors("F32", 13));
    const Model2VecEmbedder e(tmp.path);
    CHECK(e.token_ids("hellx") == std::vector<std::uint32_t>{2, 7, 7, 10});
    // "é" is no piece, but both its bytes are.
    CHECK(e.token_ids("h\xC3\xA9") == std::vector<std::uint32_t>{4, 5, 11, 12});
}
