// The HTTP module, librk_http.so (see util/module.hpp): `rk serve`, whose cpp-httplib brings
// OpenSSL and its kin, which no other command needs. Its source is http.cpp; the core reaches
// it through http_module() alone.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

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

// The module's functions, as the core calls them.
struct HttpModule {
    void (*run)(const std::filesystem::path& index_dir, const HttpOptions& options,
                const std::function<void(const std::string& url)>& on_listening);
};

}  // namespace rk::serve

// The module's entry (http.cpp).
extern "C" const rk::serve::HttpModule* rk_http_module();
