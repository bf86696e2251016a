#include "util/gzip.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>

#include "rk/error.hpp"

namespace rk::util {

bool is_gzip(std::string_view data) noexcept {
    return data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1F &&
           static_cast<unsigned char>(data[1]) == 0x8B;
}

std::string gunzip(std::string_view data, std::size_t max_bytes) {
    if (!is_gzip(data)) throw InputError("named .gz, but not gzip data");
    z_stream z{};
    // 15 + 16: a gzip wrapper, the largest window.
    if (inflateInit2(&z, 15 + 16) != Z_OK) throw InputError("cannot start gzip decompression");
    struct End {
        z_stream& z;
        ~End() { inflateEnd(&z); }
    } const end{z};
    std::string out;
    std::size_t in_at = 0;
    std::array<char, std::size_t{1} << 16> buffer{};
    while (true) {
        if (z.avail_in == 0 && in_at < data.size()) {
            const std::size_t n = std::min<std::size_t>(data.size() - in_at, UINT_MAX);
            // zlib's interface takes a non-const pointer; it does not write through it.
            z.next_in = reinterpret_cast<Bytef*>(  // NOLINT(cppcoreguidelines-pro-type-*)
                const_cast<char*>(data.data() + in_at));
            z.avail_in = static_cast<uInt>(n);
            in_at += n;
        }
        z.next_out = reinterpret_cast<Bytef*>(buffer.data());
        z.avail_out = static_cast<uInt>(buffer.size());
        const int rc = inflate(&z, Z_NO_FLUSH);
        out.append(buffer.data(), buffer.size() - z.avail_out);
        if (out.size() > max_bytes) {
            throw InputError(
                fmt::format("decompresses to more than {} MiB: not read", max_bytes >> 20));
        }
        if (rc == Z_STREAM_END) {
            // Another member may follow (files joined with cat), as gunzip reads them.
            if (z.avail_in == 0 && in_at >= data.size()) break;
            if (inflateReset(&z) != Z_OK) throw InputError("damaged gzip data");
            continue;
        }
        if (rc == Z_BUF_ERROR && z.avail_in == 0 && in_at >= data.size()) {
            throw InputError("truncated gzip data");
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            throw InputError(fmt::format("damaged gzip data{}{}", z.msg != nullptr ? ": " : "",
                                         z.msg != nullptr ? z.msg : ""));
        }
    }
    return out;
}

}  // namespace rk::util
