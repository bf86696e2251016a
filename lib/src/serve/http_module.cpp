// The core's side of the HTTP module: serve_http() loads it and runs the server there.
#include "serve/http_module.hpp"

#include "util/module.hpp"

namespace rk {

void serve_http(const std::filesystem::path& index_dir, const HttpOptions& options,
                const std::function<void(const std::string& url)>& on_listening) {
    util::module_table<serve::HttpModule>("http", "rk_http_module")
        .run(index_dir, options, on_listening);
}

}  // namespace rk
