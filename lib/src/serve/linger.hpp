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

// After a whole reply has been written on the connection `ends`: ends the server's side of
// it (the client reads the reply to its end), then reads and drops what the client still
// sends, at most `max_bytes`, until it closes its side or sends nothing for `idle`. Closing
// with bytes unread would reset the connection, and a client still sending could lose the
// reply (RFC 9112, section 9.6). cpp-httplib gives a handler no socket, so it is found among
// the process's descriptors by its ends; nothing is done if none matches. Blocks at most
// about `idle` per read; never throws.
void linger_after_reply(const ConnectionEnds& ends, std::uint64_t max_bytes,
                        std::chrono::seconds idle) noexcept;

}  // namespace rk::serve
