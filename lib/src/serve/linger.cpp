#include "serve/linger.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <optional>
#include <system_error>

namespace rk::serve {

namespace {

// An address as getnameinfo() writes it numerically (as cpp-httplib does for a request's
// ends), and its port.
std::optional<std::pair<std::string, int>> numeric(const sockaddr_storage& addr, socklen_t length) {
    std::array<char, NI_MAXHOST> host{};
    std::array<char, NI_MAXSERV> serv{};
    if (getnameinfo(reinterpret_cast<const sockaddr*>(&addr), length, host.data(), host.size(),
                    serv.data(), serv.size(), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        return std::nullopt;
    }
    int port = -1;
    const std::string_view s(serv.data());
    if (std::from_chars(s.data(), s.data() + s.size(), port).ec != std::errc()) {
        return std::nullopt;
    }
    return std::pair{std::string(host.data()), port};
}

bool is_connection(int fd, const ConnectionEnds& ends) {
    sockaddr_storage addr{};
    socklen_t length = sizeof addr;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) return false;
    const auto local = numeric(addr, length);
    if (!local || local->second != ends.local_port || local->first != ends.local_addr) {
        return false;
    }
    length = sizeof addr;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) return false;
    const auto remote = numeric(addr, length);
    return remote && remote->second == ends.remote_port && remote->first == ends.remote_addr;
}

std::optional<int> find_socket(const ConnectionEnds& ends) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
        const std::string name = entry.path().filename().string();
        int fd = -1;
        if (std::from_chars(name.data(), name.data() + name.size(), fd).ec != std::errc()) {
            continue;
        }
        if (is_connection(fd, ends)) return fd;
    }
    return std::nullopt;
}

}  // namespace

void close_after_reply(const ConnectionEnds& ends, std::uint64_t max_bytes,
                       std::chrono::seconds limit) noexcept {
    try {
        const auto fd = find_socket(ends);
        if (!fd) return;
        // Whatever happens below, the server's next read on the connection finds its end, and
        // cpp-httplib closes it.
        struct ShutReading {
            int fd;
            ~ShutReading() { (void)shutdown(fd, SHUT_RD); }
        } const shut{*fd};
        if (shutdown(*fd, SHUT_WR) != 0) return;
        std::array<char, 65536> sink{};
        std::uint64_t dropped = 0;
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (dropped < max_bytes) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return;
            pollfd p{*fd, POLLIN, 0};
            const int ready = poll(&p, 1, static_cast<int>(left.count()));
            if (ready < 0 && errno == EINTR) continue;
            if (ready <= 0) return;  // out of time, or an error
            const ssize_t n = recv(*fd, sink.data(), sink.size(), 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return;  // the client closed its side (or the connection broke)
            dropped += static_cast<std::uint64_t>(n);
        }
    } catch (...) {  // (directory iteration may allocate)
    }
}

}  // namespace rk::serve
