#include "embed/model2vec.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <map>
#include <optional>
#include <thread>

#include "embed/hf_tokenizer.hpp"
#include "rk/error.hpp"
#include "text/utf8.hpp"
#include "util/file_io.hpp"

namespace rk::embed {

namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const fs::path& file, const std::string& what) {
    throw InputError(what, file.string());
}

// One tensor of a safetensors file: where its bytes lie in the mapped file and how to read
// them. The bytes need not be aligned, so values are read with memcpy.
struct Tensor {
    std::string dtype;
    std::size_t item = 0;  // bytes per element
    std::vector<std::uint64_t> shape;
    const unsigned char* data = nullptr;
};

std::size_t dtype_size(std::string_view dtype) {
    static const std::map<std::string_view, std::size_t> sizes = {
        {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4}, {"I16", 2},
        {"I8", 1},  {"U64", 8}, {"U32", 4}, {"U16", 2},  {"U8", 1},  {"BOOL", 1}};
    auto it = sizes.find(dtype);
    return it == sizes.end() ? 0 : it->second;
}

// The safetensors layout: an 8-byte little-endian header length, a JSON header naming each
// tensor's dtype, shape and [begin, end) byte offsets after the header, then the data.
std::map<std::string, Tensor, std::less<>> read_tensors(const util::MappedFile& file) {
    const fs::path& path = file.path();
    const std::size_t size = file.size();
    if (size < 8) fail(path, "shorter than a safetensors header");
    std::uint64_t header = 0;
    for (int i = 7; i >= 0; --i) header = (header << 8U) | file.data()[i];
    if (header > size - 8) {
        fail(path, fmt::format("the header claims {} bytes, more than the file holds", header));
    }
    const std::size_t data_begin = 8 + header;
    const std::size_t data_size = size - data_begin;
    simdjson::padded_string json(reinterpret_cast<const char*>(file.data()) + 8, header);
    simdjson::dom::parser parser;
    simdjson::dom::object root;
    if (auto err = parser.parse(json).get_object().get(root); err != simdjson::SUCCESS) {
        fail(path,
             fmt::format("the header is not a JSON object: {}", simdjson::error_message(err)));
    }
    std::map<std::string, Tensor, std::less<>> tensors;
    for (auto [name, value] : root) {
        if (name == "__metadata__") continue;
        const std::string_view key = name;
        auto bad = [&](std::string_view what) {
            fail(path, fmt::format("tensor '{}': {}", key, what));
        };
        Tensor t;
        std::string_view dtype;
        simdjson::dom::array shape, offsets;
        if (value["dtype"].get_string().get(dtype) != simdjson::SUCCESS ||
            value["shape"].get_array().get(shape) != simdjson::SUCCESS ||
            value["data_offsets"].get_array().get(offsets) != simdjson::SUCCESS) {
            bad("needs a dtype, a shape and data_offsets");
        }
        t.dtype = std::string(dtype);
        t.item = dtype_size(dtype);
        std::uint64_t count = 1;
        for (auto d : shape) {
            std::uint64_t n = 0;
            if (d.get_uint64().get(n) != simdjson::SUCCESS) bad("a shape entry is not a count");
            if (n != 0 && count > std::numeric_limits<std::uint64_t>::max() / n) {
                bad("its shape overflows");
            }
            count *= n;
            t.shape.push_back(n);
        }
        std::uint64_t begin = 0, end = 0;
        if (offsets.size() != 2 || offsets.at(0).get_uint64().get(begin) != simdjson::SUCCESS ||
            offsets.at(1).get_uint64().get(end) != simdjson::SUCCESS || begin > end) {
            bad("its data_offsets are not [begin, end]");
        }
        if (end > data_size) {
            bad(fmt::format("its data ends at byte {}, past the file's end", data_begin + end));
        }
        if (t.item != 0 && (count > std::numeric_limits<std::uint64_t>::max() / t.item ||
                            count * t.item != end - begin)) {
            bad(fmt::format("its shape needs {} elements of {} bytes, its offsets hold {} bytes",
                            count, t.item, end - begin));
        }
        t.data = file.data() + data_begin + begin;
        tensors.emplace(std::string(key), std::move(t));
    }
    return tensors;
}

float half_to_float(std::uint16_t h) {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000U) << 16U;
    const std::uint32_t exponent = (h >> 10U) & 0x1FU;
    const std::uint32_t mantissa = h & 0x3FFU;
    if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24
        const float v = std::ldexp(static_cast<float>(mantissa), -24);
        return sign != 0 ? -v : v;
    }
    if (exponent == 31) return std::bit_cast<float>(sign | 0x7F800000U | (mantissa << 13U));
    return std::bit_cast<float>(sign | ((exponent + 112) << 23U) | (mantissa << 13U));
}

// The value of element `i` of a floating-point or integer tensor.
double element_value(const Tensor& t, std::size_t i) {
    const unsigned char* p = t.data + i * t.item;
    auto get = [p]<typename T>(T) {
        T v{};
        std::memcpy(&v, p, sizeof v);
        return v;
    };
    if (t.dtype == "F32") return get(float{});
    if (t.dtype == "F16") return half_to_float(get(std::uint16_t{}));
    if (t.dtype == "BF16") return std::bit_cast<float>(std::uint32_t{get(std::uint16_t{})} << 16U);
    if (t.dtype == "F64") return get(double{});
    if (t.dtype == "I8") return get(std::int8_t{});
    if (t.dtype == "U8") return get(std::uint8_t{});
    if (t.dtype == "I16") return get(std::int16_t{});
    if (t.dtype == "U16") return get(std::uint16_t{});
    if (t.dtype == "I32") return get(std::int32_t{});
    if (t.dtype == "U32") return get(std::uint32_t{});
    if (t.dtype == "I64") return static_cast<double>(get(std::int64_t{}));
    return static_cast<double>(get(std::uint64_t{}));  // U64; others are refused on load
}

bool read_normalize(const fs::path& file) {
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) fail(file, "no such file");
    simdjson::padded_string bytes;
    if (simdjson::padded_string::load(file.string()).get(bytes) != simdjson::SUCCESS) {
        fail(file, "cannot read the file");
    }
    simdjson::dom::parser parser;
    simdjson::dom::object config;
    if (auto err = parser.parse(bytes).get_object().get(config); err != simdjson::SUCCESS) {
        fail(file, fmt::format("not a JSON object: {}", simdjson::error_message(err)));
    }
    simdjson::dom::element v;
    if (config["normalize"].get(v) != simdjson::SUCCESS || v.is_null()) return true;
    bool normalize = true;
    if (v.get_bool().get(normalize) != simdjson::SUCCESS)
        fail(file, "'normalize' is not a boolean");
    return normalize;
}

}  // namespace

struct Model2VecEmbedder::Model {
    explicit Model(const fs::path& dir)
        : file(dir / "model.safetensors", util::MappedFile::Access::random),
          tokenizer(dir / "tokenizer.json"),
          normalize(read_normalize(dir / "config.json")) {
        const fs::path& path = file.path();
        auto tensors = read_tensors(file);
        auto find = [&](std::initializer_list<std::string_view> names) -> const Tensor* {
            for (auto name : names) {
                if (auto it = tensors.find(name); it != tensors.end()) return &it->second;
            }
            return nullptr;
        };
        const Tensor* e = find({"embeddings", "embedding.weight"});
        if (e == nullptr) fail(path, "no tensor 'embeddings'");
        if (e->shape.size() != 2 || e->shape[0] == 0 || e->shape[1] == 0 ||
            e->shape[1] > static_cast<std::uint64_t>(std::numeric_limits<int>::max())) {
            fail(path, "'embeddings' is not a non-empty matrix");
        }
        if (e->dtype != "F32" && e->dtype != "F16" && e->dtype != "BF16" && e->dtype != "F64" &&
            e->dtype != "I8") {
            fail(path, fmt::format("unsupported dtype '{}' of 'embeddings'", e->dtype));
        }
        embeddings = *e;
        rows = e->shape[0];
        dim = e->shape[1];
        const std::uint32_t ids = tokenizer.id_count();

        auto vector_of = [&](const Tensor& t, std::string_view name) {
            const bool single = t.shape.size() == 1 || (t.shape.size() == 2 && t.shape[1] == 1);
            if (!single || t.item == 0 || t.dtype == "BOOL") {
                fail(path, fmt::format("'{}' is not a vector of numbers", name));
            }
            std::vector<double> v(t.shape[0]);
            for (std::size_t i = 0; i < v.size(); ++i) v[i] = element_value(t, i);
            return v;
        };
        const Tensor* m = find({"mapping", "mappings", "token_mapping"});
        std::uint64_t addressable = rows;
        if (m != nullptr) {
            for (double r : vector_of(*m, "mapping")) {
                if (r < 0 || r >= static_cast<double>(rows) || r != std::floor(r)) {
                    fail(path,
                         fmt::format("the mapping names row {} of a matrix of {} rows", r, rows));
                }
                mapping.push_back(static_cast<std::uint32_t>(r));
            }
            addressable = mapping.size();
        }
        if (ids > addressable) {
            fail(dir / "tokenizer.json",
                 fmt::format("token id {} has no row in model.safetensors ({} rows)", ids - 1,
                             addressable));
        }
        if (const Tensor* w = find({"weights"})) {
            weights = vector_of(*w, "weights");
            if (weights.size() < ids) {
                fail(path, fmt::format("{} weights for {} token ids", weights.size(), ids));
            }
        }
        // model2vec cuts text before tokenising at this many characters.
        max_chars = kMaxTokens * tokenizer.median_token_length();
    }

    // Adds token `id`'s row, times `scale`, to `sum`.
    void add_row(std::uint32_t id, double scale, std::span<double> sum) const {
        const std::size_t row = mapping.empty() ? id : mapping[id];
        const auto d = static_cast<std::size_t>(dim);
        if (embeddings.dtype == "F32") {
            const unsigned char* p = embeddings.data + row * d * 4;
            for (std::size_t j = 0; j < d; ++j) {
                float v = 0;
                std::memcpy(&v, p + j * 4, 4);
                sum[j] += scale * v;
            }
            return;
        }
        for (std::size_t j = 0; j < d; ++j)
            sum[j] += scale * element_value(embeddings, row * d + j);
    }

    util::MappedFile file;
    HfTokenizer tokenizer;
    bool normalize;
    Tensor embeddings;
    std::uint64_t rows = 0, dim = 0;
    std::vector<std::uint32_t> mapping;  // token id -> row; empty: the id is the row
    std::vector<double> weights;         // per token id; empty: all 1
    std::size_t max_chars = 0;
};

Model2VecEmbedder::Model2VecEmbedder(const fs::path& dir)
    : dir_(fs::absolute(dir).lexically_normal()) {
    if (!dir_.has_filename() && dir_.has_parent_path() && dir_ != dir_.root_path()) {
        dir_ = dir_.parent_path();  // "/models/m/" names the same directory as "/models/m"
    }
    std::error_code ec;
    if (!fs::is_directory(dir_, ec)) fail(dir_, "no such model directory");
    // Checked here so that a missing file is an input error, as for the other two files.
    if (!fs::is_regular_file(dir_ / "model.safetensors", ec)) {
        fail(dir_ / "model.safetensors", "no such file");
    }
    model_ = std::make_unique<const Model>(dir_);
}

Model2VecEmbedder::~Model2VecEmbedder() = default;

std::string Model2VecEmbedder::spec() const {
    return "model2vec:" + dir_.string();
}

int Model2VecEmbedder::dimension() const {
    return static_cast<int>(model_->dim);
}

std::vector<std::uint32_t> Model2VecEmbedder::token_ids(std::string_view text) const {
    std::size_t cut = 0;
    for (std::size_t chars = 0; cut < text.size() && chars < model_->max_chars; ++chars) {
        cut += std::max<std::size_t>(1, text::utf8_sequence_length(text, cut));
    }
    std::vector<std::uint32_t> ids;
    model_->tokenizer.encode(text.substr(0, cut), ids);
    if (auto unk = model_->tokenizer.unk_token_id()) std::erase(ids, *unk);
    if (ids.size() > kMaxTokens) ids.resize(kMaxTokens);
    return ids;
}

void Model2VecEmbedder::embed_range(std::span<const std::string_view> texts,
                                    std::span<float> out) const {
    const auto d = static_cast<std::size_t>(model_->dim);
    std::vector<double> sum(d);
    for (std::size_t t = 0; t < texts.size(); ++t) {
        std::fill(sum.begin(), sum.end(), 0.0);
        const std::vector<std::uint32_t> ids = token_ids(texts[t]);
        for (std::uint32_t id : ids) {
            model_->add_row(id, model_->weights.empty() ? 1.0 : model_->weights[id], sum);
        }
        double scale = ids.empty() ? 0.0 : 1.0 / static_cast<double>(ids.size());
        if (model_->normalize) {
            double norm = 0;
            for (double v : sum) norm += v * v;
            norm = std::sqrt(norm);
            scale = norm > 0 ? 1.0 / norm : 0.0;  // the mean's direction is the sum's
        }
        float* row = out.data() + t * d;
        for (std::size_t j = 0; j < d; ++j) row[j] = static_cast<float>(sum[j] * scale);
    }
}

void Model2VecEmbedder::embed(std::span<const std::string_view> texts, std::span<float> out) const {
    const auto d = static_cast<std::size_t>(model_->dim);
    if (out.size() != texts.size() * d) {
        throw Error(fmt::format("embed: {} floats for {} texts of {} dimensions", out.size(),
                                texts.size(), d));
    }
    // Below this many texts a thread costs more than it saves.
    constexpr std::size_t kTextsPerThread = 16;
    const std::size_t threads = std::min<std::size_t>(
        std::max(1U, std::thread::hardware_concurrency()), texts.size() / kTextsPerThread);
    if (threads <= 1) {
        embed_range(texts, out);
        return;
    }
    std::vector<std::exception_ptr> errors(threads);
    {
        std::vector<std::jthread> pool;
        pool.reserve(threads);
        const std::size_t per = (texts.size() + threads - 1) / threads;
        for (std::size_t k = 0; k < threads; ++k) {
            const std::size_t begin = std::min(texts.size(), k * per);
            const std::size_t n = std::min(per, texts.size() - begin);
            pool.emplace_back([this, &errors, k, part = texts.subspan(begin, n),
                               rows = out.subspan(begin * d, n * d)] {
                try {
                    embed_range(part, rows);
                } catch (...) {
                    errors[k] = std::current_exception();
                }
            });
        }
    }
    for (const auto& e : errors) {
        if (e) std::rethrow_exception(e);
    }
}

std::unique_ptr<Embedder> make_model2vec(std::string_view dir) {
    if (dir.empty()) throw UsageError("model2vec needs a model directory: model2vec:DIR");
    return std::make_unique<Model2VecEmbedder>(fs::path(dir));
}

}  // namespace rk::embed
