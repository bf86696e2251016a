// The man page reader: rk's own roff interpreter under the man(7) and mdoc(7) macros, the
// part of rk most like a language implementation (strings, registers, conditions, escapes).
#include "read_document.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view head(reinterpret_cast<const char*>(data), size);
    // The sniffing that decides whether a file is a man page sees the same bytes.
    (void)rk::inputs::looks_like_roff(head, false);
    (void)rk::inputs::looks_like_roff(head, true);
    rk::fuzz::read_document(data, size, false,
                            [](std::string& text) { return rk::inputs::read_roff(text); });
    return 0;
}
