// The OpenAI and Ollama embedders: batches, concurrent requests, and replies checked before
// any vector is taken from them.
#include "embed/remote.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "embed/service.hpp"
#include "rk/error.hpp"
#include "rk/json.hpp"

namespace rk::embed {

namespace {

constexpr int kMaxDimension = 65536;
constexpr double kQueryTimeout = 10;  // seconds: someone is waiting for the answer
// Defaults: texts a request, requests at once, seconds to connect and between reads.
constexpr std::size_t kBatch = 64, kConcurrency = 4;
constexpr double kTimeout = 60;
constexpr const char* kProbeText = "How long are this service's vectors?";

enum class Api { openai, ollama };

class RemoteEmbedder final : public Embedder {
  public:
    RemoteEmbedder(Api api, const ServiceSpec& spec, int dimension)
        : api_(api),
          url_(spec.url),
          model_(spec.option("model")),
          key_env_(spec.option("key_env")),
          service_(spec.url, key_variable(spec, api == Api::openai ? "OPENAI_API_KEY" : "")),
          endpoint_(spec.url + (api == Api::openai ? "/embeddings" : "/api/embed")),
          dimension_(dimension) {
        batch_ = static_cast<std::size_t>(
            number_option(spec, "batch", static_cast<double>(kBatch), 1, 2048));
        concurrency_ = static_cast<std::size_t>(
            number_option(spec, "concurrency", static_cast<double>(kConcurrency), 1, 64));
        policy_.timeout =
            std::chrono::duration<double>(number_option(spec, "timeout", kTimeout, 1, 3600));
        query_policy_.timeout =
            std::min(policy_.timeout, std::chrono::duration<double>(kQueryTimeout));
        query_policy_.retries = 1;
        if (dimension_ == 0) probe();
    }

    [[nodiscard]] std::string spec() const override {
        std::string s =
            fmt::format("{}:{}?model={}", api_ == Api::openai ? "openai" : "ollama", url_, model_);
        if (!key_env_.empty()) s += "&key_env=" + key_env_;
        // How to call the service is part of the index's settings too, so that later ingests
        // call it the same way (none of it changes the vectors).
        if (batch_ != kBatch) s += fmt::format("&batch={}", batch_);
        if (concurrency_ != kConcurrency) s += fmt::format("&concurrency={}", concurrency_);
        if (policy_.timeout.count() != kTimeout)
            s += fmt::format("&timeout={}", policy_.timeout.count());
        return s;
    }
    [[nodiscard]] int dimension() const override { return dimension_; }

    void embed(std::span<const std::string_view> texts, std::span<float> out) const override {
        check_out(texts.size(), out);
        const std::size_t batches = (texts.size() + batch_ - 1) / batch_;
        if (batches <= 1 || concurrency_ == 1) {
            for (std::size_t b = 0; b < batches; ++b) run_batch(texts, out, b, policy_);
            return;
        }
        // Workers take the next batch until none are left or one has failed.
        std::atomic<std::size_t> next{0};
        std::atomic<bool> failed{false};
        std::exception_ptr error;
        std::mutex error_mutex;
        auto work = [&] {
            for (std::size_t b = next++; b < batches && !failed; b = next++) {
                try {
                    run_batch(texts, out, b, policy_);
                } catch (...) {
                    const std::lock_guard lock(error_mutex);
                    if (!error) error = std::current_exception();
                    failed = true;
                }
            }
        };
        std::vector<std::thread> workers;
        for (std::size_t i = 0; i < std::min(concurrency_, batches); ++i)
            workers.emplace_back(work);
        for (auto& t : workers) t.join();
        if (error) std::rethrow_exception(error);
    }

    void embed_query(std::string_view text, std::span<float> out) const override {
        check_out(1, out);
        run_batch({&text, 1}, out, 0, query_policy_);
    }

  private:
    void check_out(std::size_t texts, std::span<float> out) const {
        if (out.size() != texts * static_cast<std::size_t>(dimension_)) {
            throw Error(fmt::format("room for {} floats given for {} vectors of {}", out.size(),
                                    texts, dimension_));
        }
    }

    void probe() {
        const std::string_view text = kProbeText;
        const auto vectors = request({&text, 1}, policy_);
        const auto n = vectors.front().size();
        if (n == 0 || n > static_cast<std::size_t>(kMaxDimension)) {
            throw ServiceError(
                fmt::format("the service's vectors have {} dimensions (rk takes 1 to {})", n,
                            kMaxDimension),
                endpoint_);
        }
        dimension_ = static_cast<int>(n);
    }

    // Embeds texts [b * batch_, ...) into their rows of `out`. Texts with nothing but spaces
    // are not sent (services refuse empty input) and get zero vectors.
    void run_batch(std::span<const std::string_view> texts, std::span<float> out, std::size_t b,
                   const Policy& policy) const {
        const std::size_t first = b * batch_;
        const std::size_t end = std::min(texts.size(), first + batch_);
        const auto dim = static_cast<std::size_t>(dimension_);
        std::vector<std::string_view> sent;
        std::vector<std::size_t> rows;
        for (std::size_t i = first; i < end; ++i) {
            std::fill_n(out.begin() + static_cast<std::ptrdiff_t>(i * dim), dim, 0.0F);
            if (texts[i].find_first_not_of(" \t\r\n\f\v") == std::string_view::npos) continue;
            sent.push_back(texts[i]);
            rows.push_back(i);
        }
        if (sent.empty()) return;
        const auto vectors = request(sent, policy);
        for (std::size_t j = 0; j < vectors.size(); ++j) {
            const auto& v = vectors[j];
            if (v.size() != dim) {
                throw ServiceError(
                    fmt::format("the service sent a vector of {} dimensions; this index's have {}",
                                v.size(), dim),
                    endpoint_);
            }
            double norm = 0;
            for (const double x : v) norm += x * x;
            norm = std::sqrt(norm);
            float* row = out.data() + rows[j] * dim;
            for (std::size_t d = 0; d < dim; ++d) {
                row[d] = norm > 0 ? static_cast<float>(v[d] / norm) : 0.0F;
            }
        }
    }

    // One request: the vectors of `texts`, in their order, as the service sent them.
    [[nodiscard]] std::vector<std::vector<double>> request(std::span<const std::string_view> texts,
                                                           const Policy& policy) const {
        JsonWriter w;
        w.begin_object().key("model").value(model_).key("input").begin_array();
        for (const auto t : texts) w.value(t);
        w.end_array().end_object();
        const std::string reply = service_.call(
            std::string_view(endpoint_).substr(service_.url().size()), w.str(), policy);
        return parse(reply, texts.size());
    }

    [[nodiscard]] ServiceError bad(std::string_view why) const {
        return ServiceError(fmt::format("the service's reply {}", why), endpoint_);
    }

    [[nodiscard]] std::vector<std::vector<double>> parse(const std::string& reply,
                                                         std::size_t count) const {
        simdjson::dom::parser parser;
        simdjson::dom::element doc;
        if (parser.parse(reply).get(doc) != simdjson::SUCCESS) throw bad("is not JSON");
        std::vector<std::vector<double>> out(count);
        std::vector<bool> seen(count);
        simdjson::dom::array items;
        const char* field = api_ == Api::openai ? "data" : "embeddings";
        if (doc[field].get_array().get(items) != simdjson::SUCCESS) {
            throw bad(fmt::format("has no \"{}\" array", field));
        }
        if (items.size() != count) {
            throw bad(fmt::format("holds {} vectors for {} texts", items.size(), count));
        }
        std::size_t position = 0;
        for (const auto item : items) {
            simdjson::dom::array numbers;
            std::size_t at = position++;
            if (api_ == Api::openai) {
                std::int64_t index = 0;
                if (item["index"].get_int64().get(index) != simdjson::SUCCESS || index < 0 ||
                    static_cast<std::size_t>(index) >= count ||
                    seen[static_cast<std::size_t>(index)]) {
                    throw bad(fmt::format("has an entry without a distinct \"index\" of 0 to {}",
                                          count - 1));
                }
                at = static_cast<std::size_t>(index);
                if (item["embedding"].get_array().get(numbers) != simdjson::SUCCESS) {
                    throw bad("has an entry without an \"embedding\" array");
                }
            } else if (item.get_array().get(numbers) != simdjson::SUCCESS) {
                throw bad("has an embedding that is not an array");
            }
            seen[at] = true;
            auto& v = out[at];
            v.reserve(numbers.size());
            for (const auto x : numbers) {
                double d = 0;
                if (x.get_double().get(d) != simdjson::SUCCESS || !std::isfinite(d)) {
                    throw bad("has an embedding with something other than a finite number");
                }
                v.push_back(d);
            }
        }
        return out;
    }

    Api api_;
    std::string url_, model_, key_env_;
    Service service_;
    std::string endpoint_;  // what errors name
    int dimension_;
    std::size_t batch_ = kBatch, concurrency_ = kConcurrency;
    Policy policy_, query_policy_;
};

}  // namespace

bool is_remote_spec(std::string_view spec) {
    return spec.starts_with("openai:") || spec.starts_with("ollama:");
}

std::unique_ptr<Embedder> make_remote(std::string_view spec, int dimension) {
    const Api api = spec.starts_with("openai:") ? Api::openai : Api::ollama;
    if (!is_remote_spec(spec)) {
        throw UsageError(fmt::format("'{}' is not an openai: or ollama: embedder", spec));
    }
    const std::string what = fmt::format("embedder '{}'", spec);
    const auto parsed = ServiceSpec::parse(spec.substr(7), what);
    parsed.check_known(what, {"model", "key_env", "batch", "concurrency", "timeout"});
    if (parsed.option("model").empty()) {
        throw UsageError(fmt::format("{} names no model: add ?model=NAME", what));
    }
    if (dimension < 0 || dimension > kMaxDimension) {
        throw UsageError(fmt::format("{}: dimension {} is out of range", what, dimension));
    }
    return std::make_unique<RemoteEmbedder>(api, parsed, dimension);
}

}  // namespace rk::embed
