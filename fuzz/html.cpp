// The HTML reader (gumbo and rk's walk of its tree): markup replaced by the visible text.
#include "read_document.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    rk::fuzz::read_document(data, size, false,
                            [](std::string& text) { return rk::inputs::read_html(text); });
    return 0;
}
