// rk serve: the HTTP JSON API (cpp-httplib). Each worker thread borrows its own Index from
// a pool, since an Index is not thread-safe; SIGINT and SIGTERM stop the server cleanly.
#include <fmt/format.h>
#include <httplib.h>
#include <pthread.h>
#include <simdjson.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string_view>
#include <thread>
#include <vector>

#include "rk/error.hpp"
#include "rk/index.hpp"
#include "rk/json.hpp"
#include "rk/serve.hpp"
#include "rk/version.hpp"
#include "serve/calls.hpp"
#include "serve/http_module.hpp"
#include "serve/linger.hpp"

namespace rk {

namespace serve {

// Split by hand: cpp-httplib's own parser keeps only the text after the last '=' of a pair,
// so `where=lang=en`, as curl -G -d sends it, lost its key.
Params query_params(const std::string& target) {
    Params out;
    const auto q = target.find('?');
    if (q == std::string::npos) return out;
    const std::string_view query = std::string_view(target).substr(q + 1);
    std::size_t at = 0;
    while (at <= query.size()) {
        std::size_t end = query.find('&', at);
        if (end == std::string_view::npos) end = query.size();
        const std::string_view pair = query.substr(at, end - at);
        at = end + 1;
        if (pair.empty()) continue;
        const auto eq = pair.find('=');
        const std::string key(pair.substr(0, eq));
        const std::string value(eq == std::string_view::npos ? std::string_view()
                                                             : pair.substr(eq + 1));
        out.emplace(httplib::detail::decode_url(key, true),
                    httplib::detail::decode_url(value, true));
    }
    return out;
}

}  // namespace serve

namespace {

// Open read-only connections to one index, lent to one request at a time.
class IndexPool {
  public:
    IndexPool(std::filesystem::path dir, std::ostream* log) : dir_(std::move(dir)), log_(log) {
        // Open one now, so that a missing or unusable index fails at start, not per request.
        free_.push_back(open());
    }

    class Lease {
      public:
        Lease(IndexPool& pool, Index index) : pool_(pool), index_(std::move(index)) {}
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        Lease(Lease&&) = delete;
        Lease& operator=(Lease&&) = delete;
        ~Lease() { pool_.give_back(std::move(index_)); }
        [[nodiscard]] const Index& operator*() const noexcept { return index_; }

      private:
        IndexPool& pool_;
        Index index_;
    };

    Index take() {
        {
            const std::lock_guard lock(mutex_);
            if (!free_.empty()) {
                Index index = std::move(free_.back());
                free_.pop_back();
                return index;
            }
        }
        return open();
    }

  private:
    Index open() {
        Index index = Index::open(dir_, Index::Mode::read);
        if (log_ != nullptr) {
            index.set_notes([log = log_](const std::string& msg) {
                *log << "rk: serve: " << msg << '\n' << std::flush;
            });
        }
        return index;
    }

    void give_back(Index index) noexcept {
        try {
            const std::lock_guard lock(mutex_);
            free_.push_back(std::move(index));
        } catch (...) {
            // Out of memory for the vector: the connection is closed instead of kept.
        }
    }

    std::filesystem::path dir_;
    std::ostream* log_;
    std::mutex mutex_;
    std::vector<Index> free_;
};

std::string error_body(int status, std::string_view message) {
    JsonWriter w;
    w.begin_object().key("error").begin_object();
    w.key("status").value(status).key("message").value(message);
    w.end_object().end_object();
    std::string s = w.take();
    s += '\n';
    return s;
}

void send_json(httplib::Response& res, std::string body, int status = 200) {
    body += '\n';
    res.status = status;
    res.set_content(body, "application/json");
}

void send_error(httplib::Response& res, int status, std::string_view message) {
    res.status = status;
    res.set_content(error_body(status, message), "application/json");
}

// An error for a request whose body will not be read: the reply goes out at once, then the
// connection closes (close_after_reply(): what the client still sends is read and dropped
// first, at most `max_bytes`, for at most `limit`). The closing is the content provider's
// releaser, which runs when the reply is done with, whether it had a body to write (HEAD
// has none) or not.
void send_error_and_close(const httplib::Request& req, httplib::Response& res, int status,
                          std::string_view message, std::uint64_t max_bytes,
                          std::chrono::seconds limit) {
    res.status = status;
    // cpp-httplib says "Connection: close" (and no Keep-Alive) when the request did.
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast): the server's own request
    auto& headers = const_cast<httplib::Request&>(req).headers;
    headers.erase("Connection");
    headers.emplace("Connection", "close");
    auto body = std::make_shared<const std::string>(error_body(status, message));
    const serve::ConnectionEnds ends{req.local_addr, req.local_port, req.remote_addr,
                                     req.remote_port};
    res.set_content_provider(
        body->size(), "application/json",
        [body](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
            return sink.write(body->data() + offset, length);
        },
        [ends, max_bytes, limit](bool /*written*/) {
            serve::close_after_reply(ends, max_bytes, limit);
        });
}

// The message of a 413, from the pre-routing and the Expect handlers alike.
std::string too_large(std::uint64_t length, std::size_t max) {
    return fmt::format("request body too large ({} bytes; --max-body is {})", length, max);
}

// The request's Content-Length; nullopt when it has none or it is not a length.
std::optional<std::uint64_t> content_length(const httplib::Request& req) {
    if (!req.has_header("Content-Length")) return std::nullopt;
    const std::string length = req.get_header_value("Content-Length");
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), n);
    if (ec != std::errc() || end != length.data() + length.size()) return std::nullopt;
    return n;
}

// Every reply is a JSON document made for the request: a byte range of one is not a reply
// (HTTP lets a server ignore Range, and this one does).
void ignore_ranges(const httplib::Request& req) {
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-const-cast): the server's own request
    const_cast<httplib::Request&>(req).ranges.clear();
}

std::string_view reason(int status) {
    switch (status) {
        case 400:
            return "bad request";
        case 404:
            return "not found";
        case 405:
            return "method not allowed";
        case 408:
            return "request timeout";
        case 413:
            return "request body too large";
        case 414:
            return "URI too long";
        case 416:
            return "range not satisfiable";
        default:
            return status >= 500 ? "internal error" : "request failed";
    }
}

// Blocks SIGINT and SIGTERM in this thread and every thread it starts, so that only
// sigtimedwait sees them; restores the old mask when done.
class BlockedSignals {
  public:
    BlockedSignals() {
        sigemptyset(&set_);
        sigaddset(&set_, SIGINT);
        sigaddset(&set_, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set_, &old_);
    }
    ~BlockedSignals() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
    BlockedSignals(const BlockedSignals&) = delete;
    BlockedSignals& operator=(const BlockedSignals&) = delete;

    // Waits up to `ms` for SIGINT or SIGTERM; returns the signal, or 0.
    int wait(long ms) const {
        timespec ts{ms / 1000, (ms % 1000) * 1000000L};
        const int sig = sigtimedwait(&set_, nullptr, &ts);
        return sig > 0 ? sig : 0;
    }

  private:
    sigset_t set_{}, old_{};
};

// A document's path: any bytes after /docs/ (percent-decoded first); '.' would stop at a
// newline, which a file name may hold.
constexpr const char* kDocsPath = R"(/docs/([\s\S]+))";

void routes(httplib::Server& svr, IndexPool& pool, const std::filesystem::path& dir,
            const SearchDefaults& defaults) {
    // Runs `fn` with a pooled index; maps rk's errors to statuses.
    auto with_index = [&pool](httplib::Response& res, const auto& fn) {
        try {
            const IndexPool::Lease lease(pool, pool.take());
            fn(*lease);
        } catch (const UsageError& e) {
            send_error(res, 400, e.message());
        } catch (const InputError& e) {
            send_error(res, 400, e.message());
        } catch (const Error& e) {
            send_error(res, 500, e.message());
        }
    };
    auto params = [](const httplib::Request& req) { return serve::query_params(req.target); };

    svr.Get("/health", [dir](const httplib::Request&, httplib::Response& res) {
        JsonWriter w;
        w.begin_object().key("status").value("ok").key("version").value(version());
        w.key("index").value(dir.string()).end_object();
        send_json(res, w.take());
    });
    svr.Get("/search", [=](const httplib::Request& req, httplib::Response& res) {
        with_index(res, [&](const Index& index) {
            send_json(res, serve::search_result(index, serve::search_args(params(req), defaults)));
        });
    });
    svr.Post("/search", [=](const httplib::Request& req, httplib::Response& res) {
        with_index(res, [&](const Index& index) {
            simdjson::dom::parser parser;
            simdjson::dom::element body;
            if (parser.parse(req.body).get(body) != simdjson::SUCCESS) {
                throw UsageError("the request body is not valid JSON");
            }
            simdjson::dom::object args;
            if (body.get_object().get(args) != simdjson::SUCCESS) {
                throw UsageError("the request body must be a JSON object");
            }
            send_json(res, serve::search_result(index, serve::search_args(args, defaults)));
        });
    });
    svr.Get(kDocsPath, [=](const httplib::Request& req, httplib::Response& res) {
        with_index(res, [&](const Index& index) {
            const auto args = serve::get_args(req.matches[1].str(), params(req));
            if (auto doc = serve::get_result(index, args)) {
                send_json(res, std::move(*doc));
            } else {
                send_error(res, 404, fmt::format("no document or chunk '{}'", args.id));
            }
        });
    });
    svr.Get("/stats", [=](const httplib::Request& req, httplib::Response& res) {
        with_index(res, [&](const Index& index) {
            serve::stats_args(params(req));
            send_json(res, serve::stats_result(index));
        });
    });
    // Known paths with another method: 405 and the methods they take, rather than 404.
    auto refuse = [](const char* allowed) {
        return [allowed](const httplib::Request&, httplib::Response& res) {
            res.set_header("Allow", allowed);
            send_error(res, 405, fmt::format("method not allowed (use {})", allowed));
        };
    };
    for (const char* path : {"/health", "/stats", kDocsPath, "/search"}) {
        const bool post = std::string_view(path) == "/search";
        const char* allowed = post ? "GET, HEAD, POST" : "GET, HEAD";
        if (!post) svr.Post(path, refuse(allowed));
        svr.Put(path, refuse(allowed));
        svr.Patch(path, refuse(allowed));
        svr.Delete(path, refuse(allowed));
        svr.Options(path, refuse(allowed));
    }
}

}  // namespace

serve::PostReply serve::post(const PostRequest& request) {
    // "scheme://authority" for httplib::Client, the rest as the request's path.
    const auto scheme_end = request.url.find("://");
    const std::string_view scheme = scheme_end == std::string::npos
                                        ? std::string_view()
                                        : std::string_view(request.url).substr(0, scheme_end);
    if (scheme != "http" && scheme != "https") {
        throw UsageError(fmt::format("'{}' is not an http:// or https:// URL", request.url));
    }
    const auto path_start = request.url.find('/', scheme_end + 3);
    const std::string origin = request.url.substr(0, path_start);
    const std::string path =
        path_start == std::string::npos ? std::string("/") : request.url.substr(path_start);

    httplib::Client client(origin);
    const auto whole = static_cast<time_t>(request.timeout_s);
    const auto micros = static_cast<time_t>((request.timeout_s - static_cast<double>(whole)) * 1e6);
    client.set_connection_timeout(whole, micros);
    client.set_read_timeout(whole, micros);
    client.set_write_timeout(whole, micros);
    client.set_tcp_nodelay(true);
    // Redirects are not followed: the key would go wherever one points.
    httplib::Headers headers;
    for (const auto& [name, value] : request.headers) headers.emplace(name, value);

    PostReply reply;
    const auto result = client.Post(path, headers, request.body, "application/json");
    if (!result) {
        switch (result.error()) {
            case httplib::Error::Connection:
                reply.failure = "could not connect";
                break;
            case httplib::Error::Read:
            case httplib::Error::Write:
                reply.failure = fmt::format("no reply within {:g} s, or the connection broke",
                                            request.timeout_s);
                break;
            case httplib::Error::ConnectionTimeout:
                reply.failure = fmt::format("no connection within {:g} s", request.timeout_s);
                break;
            case httplib::Error::SSLConnection:
            case httplib::Error::SSLLoadingCerts:
            case httplib::Error::SSLServerVerification:
                reply.failure = fmt::format("TLS failed ({})", httplib::to_string(result.error()));
                break;
            default:
                reply.failure = httplib::to_string(result.error());
        }
        return reply;
    }
    reply.status = result->status;
    reply.body = result->body;
    if (result->has_header("Retry-After"))
        reply.retry_after = result->get_header_value("Retry-After");
    return reply;
}

void serve::run_http(const std::filesystem::path& index_dir, const HttpOptions& options,
                     const std::function<void(const std::string& url)>& on_listening) {
    if (options.threads < 1) throw UsageError("the number of threads must be at least 1");
    IndexPool pool(index_dir, options.log);
    // Before any thread starts: they all inherit the blocked signals.
    const BlockedSignals signals;

    httplib::Server svr;
    const auto threads = static_cast<std::size_t>(options.threads);
    svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    svr.set_payload_max_length(options.max_body);
    svr.set_read_timeout(options.timeout_s, 0);
    svr.set_write_timeout(options.timeout_s, 0);
    // Idle keep-alive connections hold a worker: let them go soon.
    svr.set_keep_alive_timeout(2);
    svr.set_keep_alive_max_count(1000);
    // cpp-httplib's default adds SO_REUSEPORT, which would let a second server share our port
    // silently; SO_REUSEADDR alone only allows a quick restart.
    svr.set_socket_options([](socket_t sock) {
        const int yes = 1;
        (void)setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    // Headers and body go out in separate writes: without this, Nagle's algorithm holds the
    // body until the client's delayed ACK, 40 ms a request.
    svr.set_tcp_nodelay(true);
    routes(svr, pool, index_dir, options.search);
    // Byte ranges are ignored (ignore_ranges()). A Content-Length that is not a length (-1), or
    // one over --max-body, whatever the method and path, is answered before any body is read
    // (cpp-httplib would read the body first, and wait out the read timeout for one the
    // client never sends; or, for GET and HEAD, read none and take it for the next request);
    // then the connection closes, what the client still sends read and dropped first (within
    // --timeout) so that a client sending its body gets the reply rather than a reset.
    svr.set_pre_routing_handler(
        [max = options.max_body, limit = std::chrono::seconds(options.timeout_s)](
            const httplib::Request& req, httplib::Response& res) {
            ignore_ranges(req);
            if (!req.has_header("Content-Length"))
                return httplib::Server::HandlerResponse::Unhandled;
            const auto n = content_length(req);
            if (!n) {
                send_error_and_close(
                    req, res, 400,
                    fmt::format("bad Content-Length '{}'", req.get_header_value("Content-Length")),
                    max, limit);
                return httplib::Server::HandlerResponse::Handled;
            }
            if (*n > max) {
                send_error_and_close(req, res, 413, too_large(*n, max), *n, limit);
                return httplib::Server::HandlerResponse::Handled;
            }
            return httplib::Server::HandlerResponse::Unhandled;
        });
    // A client that asks before sending its body (Expect: 100-continue; curl does for bodies
    // over 1 MiB) and announces one over --max-body is told 413 at once instead of "go on":
    // it sends nothing, and the connection stays open for its next request. (A bad length
    // is told to go on: the pre-routing handler refuses it before reading any body.)
    svr.set_expect_100_continue_handler(
        [max = options.max_body](const httplib::Request& req, httplib::Response& res) {
            const auto n = content_length(req);
            if (!n || *n <= max) return 100;
            ignore_ranges(req);  // (this reply does not pass the pre-routing handler)
            send_error(res, 413, too_large(*n, max));
            return 413;
        });
    svr.set_error_handler([](const httplib::Request&, httplib::Response& res) {
        if (res.body.empty() && !res.content_provider_)
            res.set_content(error_body(res.status, reason(res.status)), "application/json");
    });
    svr.set_exception_handler(
        [&options](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
            std::string what = "unknown exception";
            try {
                std::rethrow_exception(std::move(ep));
            } catch (const std::exception& e) {
                what = e.what();
            } catch (...) {
            }
            if (options.log != nullptr) {
                *options.log << "rk: serve: internal error in " << req.path << ": " << what << '\n';
            }
            send_error(res, 500, fmt::format("internal error: {}", what));
        });
    if (options.log != nullptr) {
        svr.set_logger(
            [log = options.log](const httplib::Request& req, const httplib::Response& res) {
                *log << fmt::format("rk: serve: {} {} {}\n", req.method, req.target, res.status)
                     << std::flush;
            });
    }

    int port = options.port;
    if (port == 0) {
        port = svr.bind_to_any_port(options.host);
    } else if (!svr.bind_to_port(options.host, port)) {
        port = -1;
    }
    if (port <= 0) {
        throw Error(
            fmt::format("cannot listen on {}:{} (the port is in use, or the address is "
                        "not one of this machine's)",
                        options.host, options.port));
    }
    const bool v6 = options.host.find(':') != std::string::npos;
    on_listening(fmt::format("http://{}{}{}:{}", v6 ? "[" : "", options.host, v6 ? "]" : "", port));

    std::atomic<bool> done{false};
    std::thread listener([&] {
        svr.listen_after_bind();
        done = true;
    });
    while (!done) {
        if (signals.wait(200) != 0) break;
    }
    // stop() acts only once the server runs, which a very early signal may precede.
    while (!done) {
        svr.stop();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    listener.join();
}

}  // namespace rk

extern "C" const rk::serve::HttpModule* rk_http_module() {
    static const rk::serve::HttpModule table{rk::serve::run_http, rk::serve::post};
    return &table;
}
