// Serving an index to other programs: the Model Context Protocol on standard input and
// output (`rk mcp`), and a JSON API over HTTP (`rk serve`). Both answer the same calls:
// search, get and stats.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>

namespace rk {

// The MCP protocol revisions served, newest first.
inline constexpr const char* kMcpProtocolVersions[] = {"2025-11-25", "2025-06-18"};

// What a search call gets when it does not say: the front end's --rerank and --rerank-depth
// (see Query::rerank).
struct SearchDefaults {
    std::optional<std::string> rerank;
    int rerank_depth = 50;
};

// Serves MCP (JSON-RPC 2.0, one message a line) from `in` to `out` until `in` ends, over the
// index at `index_dir`, opened once for reading (a later writer's commits are seen by later
// calls). Diagnostics go to `log` when it is not null; nothing but replies goes to `out`.
// Throws IndexError when the index cannot be opened.
void serve_mcp(const std::filesystem::path& index_dir, std::istream& in, std::ostream& out,
               std::ostream* log, const SearchDefaults& defaults = {});

struct HttpOptions {
    std::string host = "127.0.0.1";
    int port = 7700;  // 0 picks a free port
    int threads = 8;  // worker threads, each with its own connection to the index
    std::size_t max_body = std::size_t{1} << 20;  // larger request bodies get 413
    int timeout_s = 10;                           // to read a request, and to write a reply
    std::ostream* log = nullptr;                  // one line a request, when not null
    SearchDefaults search;
};

// Serves the HTTP API over the index at `index_dir` until SIGINT or SIGTERM arrives, then
// finishes the requests under way and returns. It blocks both signals in the calling thread
// and the threads it starts; call it before starting other threads (or block them there).
// `on_listening` gets the base URL
// ("http://127.0.0.1:PORT") once the port is bound. Throws IndexError when the index cannot
// be opened and Error when the address cannot be bound.
void serve_http(const std::filesystem::path& index_dir, const HttpOptions& options,
                const std::function<void(const std::string& url)>& on_listening);

}  // namespace rk
