// A reranking service's request and reply.
#include "search/rerank.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>

#include "embed/service.hpp"
#include "rk/error.hpp"
#include "rk/json.hpp"

namespace rk {

namespace {

// Someone waits for the answer: a reranker slower than this is better skipped (the fused
// order stands), and a second retry is as far as patience goes.
constexpr double kDefaultTimeout = 10;
constexpr int kDefaultRetries = 2;

}  // namespace

std::vector<Reranked> call_reranker(std::string_view spec, std::string_view query,
                                    const std::vector<std::string>& documents) {
    const auto parsed = embed::ServiceSpec::parse(spec, "the reranker");
    parsed.check_known("the reranker", {"model", "key_env", "timeout", "retries"});
    embed::Policy policy;
    policy.timeout = std::chrono::duration<double>(
        embed::number_option(parsed, "timeout", kDefaultTimeout, 0.1, 3600));
    policy.retries =
        static_cast<int>(embed::number_option(parsed, "retries", kDefaultRetries, 0, 10));
    if (documents.empty()) return {};
    const embed::Service service(parsed.url, embed::key_variable(parsed, "OPENAI_API_KEY"));

    JsonWriter w;
    w.begin_object();
    if (const auto model = parsed.option("model"); !model.empty()) w.key("model").value(model);
    w.key("query").value(query).key("documents").begin_array();
    for (const auto& d : documents) w.value(d);
    w.end_array();
    w.key("top_n").value(static_cast<std::int64_t>(documents.size())).end_object();
    const std::string reply = service.call("", w.str(), policy);

    auto bad = [&](std::string_view why) {
        return ServiceError(fmt::format("the reranker's reply {}", why), parsed.url);
    };
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(reply).get(doc) != simdjson::SUCCESS) throw bad("is not JSON");
    simdjson::dom::array results;
    if (doc.get_array().get(results) != simdjson::SUCCESS &&
        doc["results"].get_array().get(results) != simdjson::SUCCESS) {
        throw bad("has no \"results\" array");
    }
    std::vector<Reranked> out;
    std::vector<bool> seen(documents.size());
    for (const auto item : results) {
        std::int64_t index = -1;
        double score = 0;
        if (item["index"].get_int64().get(index) != simdjson::SUCCESS || index < 0 ||
            static_cast<std::size_t>(index) >= documents.size()) {
            throw bad(fmt::format("names no document 0 to {} by \"index\"", documents.size() - 1));
        }
        if (item["relevance_score"].get_double().get(score) != simdjson::SUCCESS &&
            item["score"].get_double().get(score) != simdjson::SUCCESS) {
            throw bad("gives a result without \"relevance_score\" or \"score\"");
        }
        if (seen[static_cast<std::size_t>(index)]) {
            throw bad(fmt::format("ranks document {} twice", index));
        }
        seen[static_cast<std::size_t>(index)] = true;
        out.push_back({static_cast<std::size_t>(index), score});
    }
    // Servers sort by score already, but a bare array need not be sorted.
    std::stable_sort(out.begin(), out.end(),
                     [](const Reranked& a, const Reranked& b) { return a.score > b.score; });
    return out;
}

}  // namespace rk
