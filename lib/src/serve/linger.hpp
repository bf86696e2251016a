// Closing a connection whose request body the server will not read, without losing the reply.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace rk::serve {

// One TCP connection, by its two ends as cpp-httplib gives them to a handler (numeric
// address, port).
struct ConnectionEnds {
    std::string local_addr;
    int local_port = -1;
    std::string remote_addr;
    int remote_port = -1;
};

// After a whole reply has been written on the connection `ends`, for a request whose body
// the server does not read: ends the server's side of the connection (the client reads the
// reply to its end), reads and drops what the client still sends, at most `max_bytes` and
// for at most `limit` in all, then shuts the reading side, so that the server's next read
// finds the end and cpp-httplib closes the connection. Closing with bytes unread would reset
// the connection, and a client still sending could lose the reply (RFC 9112, section 9.6).
// cpp-httplib gives a handler no socket, so it is found among the process's descriptors by
// its ends; nothing is done if none matches (/proc is not mounted). Blocks at most about
// `limit`; never throws.
void close_after_reply(const ConnectionEnds& ends, std::uint64_t max_bytes,
                       std::chrono::seconds limit) noexcept;

}  // namespace rk::serve
