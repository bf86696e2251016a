// The remote embedders and the service call, against a loopback server in this process
// (the CLI tests use tests/cli/fake_service.py; these reach what the CLI cannot yet).
#include "embed/remote.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "embed/service.hpp"
#include "rk/error.hpp"

namespace {

struct Reply {
    int status = 200;
    std::string body;
};

// Answers each connection's one request with `respond(path, body)`, then closes it.
class LoopbackServer {
  public:
    explicit LoopbackServer(std::function<Reply(const std::string&, const std::string&)> respond)
        : respond_(std::move(respond)) {
        fd_ = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
        REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0);
        REQUIRE(getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
        // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
        REQUIRE(listen(fd_, 16) == 0);
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] { serve(); });
    }
    ~LoopbackServer() {
        shutdown(fd_, SHUT_RDWR);
        close(fd_);
        thread_.join();
    }
    LoopbackServer(const LoopbackServer&) = delete;
    LoopbackServer& operator=(const LoopbackServer&) = delete;

    [[nodiscard]] std::string url() const { return fmt::format("http://127.0.0.1:{}", port_); }
    [[nodiscard]] std::vector<std::string> requests() const {
        const std::lock_guard lock(mutex_);
        return requests_;
    }

  private:
    void serve() {
        for (;;) {
            const int c = accept(fd_, nullptr, nullptr);
            if (c < 0) return;
            std::string in;
            char buf[4096];
            std::size_t need = std::string::npos;
            while (need == std::string::npos || in.size() < need) {
                const ssize_t n = read(c, buf, sizeof buf);
                if (n <= 0) break;
                in.append(buf, static_cast<std::size_t>(n));
                const auto end = in.find("\r\n\r\n");
                if (need == std::string::npos && end != std::string::npos) {
                    const auto at = in.find("Content-Length: ");
                    need = end + 4 + (at == std::string::npos ? 0 : std::stoul(in.substr(at + 16)));
                }
            }
            const auto head_end = in.find("\r\n\r\n");
            const std::string path = in.substr(5, in.find(' ', 5) - 5);
            const std::string body = head_end == std::string::npos ? "" : in.substr(head_end + 4);
            {
                const std::lock_guard lock(mutex_);
                requests_.push_back(in);
            }
            const Reply r = respond_(path, body);
            const std::string out = fmt::format(
                "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
                "Connection: close\r\n\r\n{}",
                r.status, r.body.size(), r.body);
            (void)!write(c, out.data(), out.size());
            close(c);
        }
    }

    std::function<Reply(const std::string&, const std::string&)> respond_;
    int fd_ = -1;
    int port_ = 0;
    std::thread thread_;
    mutable std::mutex mutex_;
    std::vector<std::string> requests_;
};

// An OpenAI reply for the request's inputs: input i gets (i + 1, 0, ..., 0) in `dim`
// dimensions, listed last to first.
Reply openai_reply(const std::string& body, int dim) {
    simdjson::dom::parser parser;
    simdjson::dom::array inputs;
    if (parser.parse(body)["input"].get_array().get(inputs) != simdjson::SUCCESS) {
        return {400, R"({"error":{"message":"not JSON with an input array"}})"};
    }
    std::string out = R"({"data":[)";
    for (std::size_t i = inputs.size(); i-- > 0;) {
        if (i + 1 != inputs.size()) out += ',';
        out += fmt::format(R"({{"index":{},"embedding":[{})", i, i + 1);
        for (int d = 1; d < dim; ++d) out += ",0";
        out += "]}";
    }
    out += "]}";
    return {200, out};
}

}  // namespace

TEST_CASE("remote embedder specs are checked and made canonical") {
    const auto e = rk::embed::make_remote(
        "openai:http://127.0.0.1:9/v1/?model=m&batch=8&concurrency=2&timeout=5&key_env=K", 16);
    // How to call the service stays in the spec (the index keeps it); the key never does.
    CHECK(e->spec() ==
          "openai:http://127.0.0.1:9/v1?model=m&key_env=K&batch=8&concurrency=2&timeout=5");
    CHECK(rk::embed::make_remote("openai:http://h/v1?model=m&batch=64&timeout=60", 4)->spec() ==
          "openai:http://h/v1?model=m");
    CHECK(e->dimension() == 16);
    CHECK(rk::embed::make_remote("ollama:http://h:11434?model=x", 8)->spec() ==
          "ollama:http://h:11434?model=x");
    for (const char* bad :
         {"openai:http://h/v1", "openai:ftp://h/v1?model=m", "openai:http://h/v1?model=m&color=red",
          "openai:http://h?model=m&batch=0", "ollama:http://h?model=m&key_env=A-B"}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(rk::embed::make_remote(bad, 8), rk::UsageError);
    }
}

TEST_CASE("the openai embedder batches, orders by index and normalises") {
    std::atomic<int> calls{0};
    LoopbackServer server([&](const std::string& path, const std::string& body) {
        ++calls;
        REQUIRE(path == "/v1/embeddings");
        return openai_reply(body, 4);
    });
    const auto e =
        rk::embed::make_remote("openai:" + server.url() + "/v1?model=m&batch=3&concurrency=2", 0);
    REQUIRE(e->dimension() == 4);  // learnt by the probe
    // "caf\xe9" is not UTF-8: the request must still be JSON (the server parses it).
    const std::vector<std::string_view> texts{"a", "b", " \n", "caf\xe9", "d", "e", "f"};
    std::vector<float> out(texts.size() * 4, -1.0F);
    e->embed(texts, out);
    CHECK(calls == 1 + 3);
    for (std::size_t i = 0; i < texts.size(); ++i) {
        CAPTURE(i);
        CHECK(out[i * 4] == (i == 2 ? 0.0F : 1.0F));  // the blank text is not sent
        CHECK(out[i * 4 + 1] == 0.0F);
    }
    std::vector<float> q(4);
    e->embed_query("q", q);
    CHECK(q[0] == 1.0F);
}

TEST_CASE("a reply of the wrong size is a ServiceError, not garbage") {
    int dim = 4;
    bool short_count = false;
    LoopbackServer server([&](const std::string&, const std::string& body) {
        if (short_count) return Reply{200, R"({"data":[]})"};
        return openai_reply(body, dim);
    });
    const auto e = rk::embed::make_remote("openai:" + server.url() + "?model=m", 4);
    std::vector<float> out(4);
    const std::string_view text = "x";
    dim = 5;
    CHECK_THROWS_WITH(e->embed({&text, 1}, out),
                      Catch::Contains("5 dimensions") && Catch::Contains("have 4"));
    dim = 4;
    short_count = true;
    CHECK_THROWS_WITH(e->embed({&text, 1}, out), Catch::Contains("0 vectors for 1 texts"));
    try {
        e->embed({&text, 1}, out);
    } catch (const rk::ServiceError& err) {
        CHECK(err.where() == server.url() + "/embeddings");
        return;
    }
    FAIL("no ServiceError");
}

TEST_CASE("the ollama embedder reads embeddings in order") {
    LoopbackServer server([](const std::string& path, const std::string&) {
        REQUIRE(path == "/api/embed");
        return Reply{200, R"({"embeddings":[[3,4],[0,2]]})"};
    });
    const auto e = rk::embed::make_remote("ollama:" + server.url() + "?model=m", 2);
    const std::vector<std::string_view> texts{"a", "b"};
    std::vector<float> out(4);
    e->embed(texts, out);
    CHECK(out[0] == Approx(0.6));
    CHECK(out[1] == Approx(0.8));
    CHECK(out[3] == Approx(1.0));
}

TEST_CASE("service calls: errors are not retried, 5xx are, and the key stays out") {
    std::atomic<int> calls{0};
    int status = 401;
    LoopbackServer server([&](const std::string&, const std::string&) {
        ++calls;
        return Reply{status, R"({"error":{"message":"nope sk-secret"}})"};
    });
    const rk::embed::Service service(server.url(), "PATH");  // any set variable will do
    rk::embed::Policy policy;
    policy.retries = 2;
    policy.timeout = std::chrono::seconds(5);
    CHECK_THROWS_WITH(service.call("/x", "{}", policy), Catch::Contains("refused the key"));
    CHECK(calls == 1);
    status = 400;
    CHECK_THROWS_WITH(service.call("/x", "{}", policy), Catch::Contains("nope"));
    status = 503;
    calls = 0;
    CHECK_THROWS_WITH(service.call("/x", "{}", policy),
                      Catch::Contains("3 times") && Catch::Contains("HTTP 503"));
    CHECK(calls == 3);
    CHECK(server.requests().back().find("Authorization: Bearer ") != std::string::npos);
}
