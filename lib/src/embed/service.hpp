// Calling an HTTP service (an embedder, a reranker) with one JSON request: its spec, its key,
// its timeouts and retries, and what each failure means to the user. The bytes travel
// through the HTTP module (serve/http_module.hpp), which alone links cpp-httplib and OpenSSL.
#pragma once

#include <chrono>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rk::embed {

// "URL?key=value&key=value": the service's URL (no trailing slash) and its options, in the
// order given. Throws UsageError when the URL is not http:// or https:// or an option is
// not key=value.
struct ServiceSpec {
    std::string url;
    std::vector<std::pair<std::string, std::string>> options;

    static ServiceSpec parse(std::string_view spec, std::string_view what);
    // The option's value, or empty when absent.
    [[nodiscard]] std::string option(std::string_view key) const;
    // Throws UsageError naming the first option not in `known` ("model, key_env, batch").
    void check_known(std::string_view what, std::initializer_list<std::string_view> known) const;
};

// Parses a positive number option, or returns `fallback` when it is absent. Throws
// UsageError naming `key` when it is not a number in [min, max].
double number_option(const ServiceSpec& spec, std::string_view key, double fallback, double min,
                     double max);

// How hard one call tries: each attempt may take `timeout` to connect and then as long
// between reads of the reply; after a retryable failure (a 429, a 5xx, a connection that
// failed or timed out) it waits a random time up to 0.5 s * 2^attempt (capped at 10 s), or
// what the server's Retry-After says (capped at kMaxRetryAfter), and tries again, `retries`
// times at most.
struct Policy {
    std::chrono::duration<double> timeout{60};
    int retries = 4;
};

// The longest Retry-After honoured: a server asking for minutes is treated as down.
inline constexpr std::chrono::seconds kMaxRetryAfter{30};

class Service {
  public:
    // `key_env`: the environment variable holding the API key ("" for none); the key is read
    // now, sent as "Authorization: Bearer KEY", and kept out of every message.
    Service(std::string url, const std::string& key_env);

    [[nodiscard]] const std::string& url() const noexcept { return url_; }

    // POSTs `body` (JSON) to url() + `path` and returns the reply's body (2xx). Thread-safe.
    // Throws ServiceError, whose where() is the URL: at once for 401/403 (the key refused),
    // 404 (no such endpoint or model) and other 4xx (with the server's message when its
    // JSON has one); after the last retry for the retryable failures, saying what the last
    // one was.
    [[nodiscard]] std::string call(std::string_view path, const std::string& body,
                                   const Policy& policy) const;

  private:
    std::string url_;
    std::string key_env_;
    std::string key_;
};

// The environment variable a spec's key comes from: its key_env option, else `fallback`
// ("OPENAI_API_KEY", or "" for none). Throws UsageError for a name that cannot be one.
std::string key_variable(const ServiceSpec& spec, std::string_view fallback);

}  // namespace rk::embed
