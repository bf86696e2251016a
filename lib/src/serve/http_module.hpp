// The HTTP module, librk_http.so (see util/module.hpp): `rk serve`, whose cpp-httplib brings
// OpenSSL and its kin, which no other command needs. Its source is http.cpp; the core reaches
// it through http_module() alone.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "rk/serve.hpp"
#include "serve/calls.hpp"

namespace rk::serve {

// serve_http() of rk/serve.hpp, as the module implements it.
void run_http(const std::filesystem::path& index_dir, const HttpOptions& options,
              const std::function<void(const std::string& url)>& on_listening);

// The parameters of a request target's query string ("/search?q=a+b&where=lang=en"): split
// at '&' and at the first '=' of each, then percent-decoded ('+' is a space). A key may
// repeat. (Here rather than in calls.hpp: the decoding is cpp-httplib's.)
Params query_params(const std::string& target);

// One POST to a service (embed/service.hpp makes them; the module sends them).
struct PostRequest {
    std::string url;  // "http[s]://host[:port]/path"
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;       // JSON
    double timeout_s = 30;  // to connect, and then between reads of the reply
};

struct PostReply {
    int status = 0;  // the HTTP status; 0 when no reply came (see `failure`)
    std::string body;
    std::string retry_after;  // the Retry-After header, empty when absent
    std::string failure;      // with status 0: why ("connection refused", "timed out", ...)
};

// Sends `request` once. Never throws for what the network or the server did: that is in
// the reply. Throws UsageError for a URL it cannot send to (no http:// or https://).
PostReply post(const PostRequest& request);

// The module's functions, as the core calls them.
struct HttpModule {
    void (*run)(const std::filesystem::path& index_dir, const HttpOptions& options,
                const std::function<void(const std::string& url)>& on_listening);
    PostReply (*post)(const PostRequest& request);
};

}  // namespace rk::serve

// The module's entry (http.cpp).
extern "C" const rk::serve::HttpModule* rk_http_module();
