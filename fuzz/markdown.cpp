// The Markdown reader: front matter, headings, fences and paragraphs of any text.
#include "read_document.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    rk::fuzz::read_document(data, size, false,
                            [](std::string& text) { return rk::inputs::read_markdown(text); });
    return 0;
}
