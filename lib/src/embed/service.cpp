// One JSON call to a service, retried as service.hpp says.
#include "embed/service.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <random>
#include <thread>

#include "rk/error.hpp"
#include "serve/http_module.hpp"
#include "util/module.hpp"

namespace rk::embed {

namespace {

constexpr double kFirstBackoff = 0.5;  // seconds
constexpr double kMaxBackoff = 10;
// How much of a server's error message is quoted: enough for a sentence, not a page.
constexpr std::size_t kMessageBytes = 200;

bool retryable(int status) {
    return status == 0 || status == 429 || status >= 500;
}

// Retry-After in seconds (an HTTP date is rare from these services and is ignored), capped.
std::optional<double> retry_after(const std::string& header) {
    int seconds = 0;
    const auto [end, ec] = std::from_chars(header.data(), header.data() + header.size(), seconds);
    if (ec != std::errc() || end != header.data() + header.size() || seconds < 0) {
        return std::nullopt;
    }
    return std::min<double>(seconds, static_cast<double>(kMaxRetryAfter.count()));
}

double jitter(double upper) {
    thread_local std::mt19937 rng{std::random_device{}()};
    return std::uniform_real_distribution<double>(0, upper)(rng);
}

// The message in an error reply's JSON: {"error": {"message": M}}, {"error": M},
// {"message": M} or {"detail": M}, as OpenAI, Ollama, TEI and FastAPI servers send.
std::string server_message(const std::string& body) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(body).get(doc) != simdjson::SUCCESS) return {};
    std::string_view text;
    for (const char* path : {"/error/message", "/error", "/message", "/detail"}) {
        if (doc.at_pointer(path).get_string().get(text) == simdjson::SUCCESS) break;
    }
    std::string out(text.substr(0, kMessageBytes));
    for (auto& c : out) {
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    }
    return out;
}

}  // namespace

ServiceSpec ServiceSpec::parse(std::string_view spec, std::string_view what) {
    ServiceSpec out;
    const auto q = spec.find('?');
    out.url = std::string(spec.substr(0, q));
    while (out.url.ends_with('/')) out.url.pop_back();
    if (!out.url.starts_with("http://") && !out.url.starts_with("https://")) {
        throw UsageError(
            fmt::format("{} '{}' wants an http:// or https:// URL", what, std::string(spec)));
    }
    if (out.url.find_first_of(" \t\r\n") != std::string::npos) {
        throw UsageError(fmt::format("{}: the URL '{}' holds a space", what, out.url));
    }
    if (q == std::string_view::npos) return out;
    std::string_view rest = spec.substr(q + 1);
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
        if (pair.empty()) continue;
        const auto eq = pair.find('=');
        if (eq == std::string_view::npos || eq == 0) {
            throw UsageError(fmt::format("{}: option '{}' is not key=value", what, pair));
        }
        out.options.emplace_back(pair.substr(0, eq), pair.substr(eq + 1));
    }
    return out;
}

std::string ServiceSpec::option(std::string_view key) const {
    for (const auto& [k, v] : options) {
        if (k == key) return v;
    }
    return {};
}

void ServiceSpec::check_known(std::string_view what,
                              std::initializer_list<std::string_view> known) const {
    for (const auto& [k, v] : options) {
        if (std::find(known.begin(), known.end(), k) != known.end()) continue;
        std::string list;
        for (const auto name : known) list += (list.empty() ? "" : ", ") + std::string(name);
        throw UsageError(fmt::format("{}: unknown option '{}' (expected {})", what, k, list));
    }
}

double number_option(const ServiceSpec& spec, std::string_view key, double fallback, double min,
                     double max) {
    const std::string text = spec.option(key);
    if (text.empty()) return fallback;
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || !(value >= min && value <= max)) {
        throw UsageError(fmt::format("option {}={} of {} wants a number from {:g} to {:g}", key,
                                     text, spec.url, min, max));
    }
    return value;
}

std::string key_variable(const ServiceSpec& spec, std::string_view fallback) {
    std::string name = spec.option("key_env");
    if (name.empty()) return std::string(fallback);
    const bool ok = std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '_';
    });
    if (!ok)
        throw UsageError(fmt::format("key_env={} is not an environment variable's name", name));
    return name;
}

Service::Service(std::string url, const std::string& key_env)
    : url_(std::move(url)), key_env_(key_env) {
    if (key_env.empty()) return;
    // NOLINTNEXTLINE(concurrency-mt-unsafe): read once, before this service's threads start
    if (const char* key = std::getenv(key_env.c_str())) key_ = key;
}

std::string Service::call(std::string_view path, const std::string& body,
                          const Policy& policy) const {
    const auto& http = util::module_table<serve::HttpModule>("http", "rk_http_module");
    serve::PostRequest request;
    request.url = url_ + std::string(path);
    request.body = body;
    request.timeout_s = policy.timeout.count();
    request.headers.emplace_back("Accept", "application/json");
    if (!key_.empty()) request.headers.emplace_back("Authorization", "Bearer " + key_);

    // Whatever a server echoes back, the key itself is never repeated.
    auto scrub = [this](std::string text) {
        if (key_.empty()) return text;
        for (auto at = text.find(key_); at != std::string::npos; at = text.find(key_, at)) {
            text.replace(at, key_.size(), "***");
        }
        return text;
    };
    std::string last;
    for (int attempt = 0;; ++attempt) {
        const serve::PostReply reply = http.post(request);
        if (reply.status >= 200 && reply.status < 300) return reply.body;
        const std::string message = scrub(server_message(reply.body));
        const std::string said = message.empty() ? std::string() : ": " + message;
        if (reply.status == 401 || reply.status == 403) {
            throw ServiceError(
                fmt::format("the service refused the key (HTTP {}){}", reply.status,
                            key_.empty() ? fmt::format("; no key was sent ({} is not set)",
                                                       key_env_.empty() ? "key_env=NAME" : key_env_)
                                         : std::string()),
                request.url);
        }
        if (reply.status == 404) {
            throw ServiceError(fmt::format("no such endpoint or model (HTTP 404){}", said),
                               request.url);
        }
        if (!retryable(reply.status)) {
            throw ServiceError(
                fmt::format("the service refused the request (HTTP {}){}", reply.status, said),
                request.url);
        }
        last = reply.status == 0 ? reply.failure : fmt::format("HTTP {}{}", reply.status, said);
        if (attempt >= policy.retries) break;
        double wait = jitter(std::min(kMaxBackoff, kFirstBackoff * std::pow(2.0, attempt)));
        if (const auto asked = retry_after(reply.retry_after)) wait = std::max(wait, *asked);
        std::this_thread::sleep_for(std::chrono::duration<double>(wait));
    }
    throw ServiceError(fmt::format("the service failed {} time{}; the last time: {}",
                                   policy.retries + 1, policy.retries == 0 ? "" : "s", last),
                       request.url);
}

}  // namespace rk::embed
