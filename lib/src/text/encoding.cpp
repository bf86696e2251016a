#include "text/encoding.hpp"

#include <fmt/format.h>
#include <iconv.h>
#include <uchardet/uchardet.h>

#include <cerrno>
#include <memory>

#include "rk/error.hpp"

namespace rk::text {

std::optional<Bom> byte_order_mark(std::string_view d) noexcept {
    // UTF-32LE's mark starts with UTF-16LE's: the longer first.
    if (d.starts_with(std::string_view("\xFF\xFE\x00\x00", 4))) return Bom{"UTF-32LE", 4};
    if (d.starts_with(std::string_view("\x00\x00\xFE\xFF", 4))) return Bom{"UTF-32BE", 4};
    if (d.starts_with("\xFF\xFE")) return Bom{"UTF-16LE", 2};
    if (d.starts_with("\xFE\xFF")) return Bom{"UTF-16BE", 2};
    if (d.starts_with("\xEF\xBB\xBF")) return Bom{"UTF-8", 3};
    return std::nullopt;
}

std::optional<std::string> detect_encoding(std::string_view data) {
    const std::unique_ptr<uchardet, void (*)(uchardet_t)> ud(uchardet_new(), uchardet_delete);
    if (!ud) return std::nullopt;
    // A few hundred KiB tell as much as the whole of a large file.
    const std::size_t n = std::min<std::size_t>(data.size(), std::size_t{256} << 10);
    if (uchardet_handle_data(ud.get(), data.data(), n) != 0) return std::nullopt;
    uchardet_data_end(ud.get());
    const char* name = uchardet_get_charset(ud.get());
    if (name == nullptr || *name == '\0') return std::nullopt;
    const std::string found(name);
    if (found == "ASCII" || found == "UTF-8") return std::nullopt;
    return found;
}

std::string decode(std::string_view data, const std::string& encoding) {
    iconv_t cd = iconv_open("UTF-8", encoding.c_str());
    // iconv_open's failure value is (iconv_t)-1, by its specification.
    if (cd == reinterpret_cast<iconv_t>(-1)) {  // NOLINT(performance-no-int-to-ptr)
        throw InputError(fmt::format("unknown text encoding '{}'", encoding));
    }
    const std::unique_ptr<void, int (*)(iconv_t)> close(cd, iconv_close);
    std::string out;
    out.resize(data.size() * 2 + 16);
    // iconv's interface takes non-const pointers; it does not write through the input one.
    char* in = const_cast<char*>(data.data());  // NOLINT(cppcoreguidelines-pro-type-const-cast)
    std::size_t in_left = data.size();
    std::size_t done = 0;
    while (in_left > 0) {
        char* o = out.data() + done;
        std::size_t out_left = out.size() - done;
        const std::size_t rc = iconv(cd, &in, &in_left, &o, &out_left);
        done = static_cast<std::size_t>(o - out.data());
        if (rc != static_cast<std::size_t>(-1)) break;
        if (errno == E2BIG) {
            out.resize(out.size() * 2);
            continue;
        }
        const auto at = data.size() - in_left;
        throw InputError(fmt::format("not valid {} at byte {}{}", encoding, at,
                                     errno == EINVAL ? " (the text ends inside a character)" : ""));
    }
    out.resize(done);
    return out;
}

}  // namespace rk::text
