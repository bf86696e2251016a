// The readers of zip archives of XML in the formats module (librk_formats.so): DOCX, ODT and
// EPUB (libzip, libxml2's streaming reader, the HTML reader for an EPUB's chapters). The
// first byte picks the format; the rest is the file.
#include "ingest/formats.hpp"
#include "read_document.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    static const auto& formats = rk::inputs::formats_module();
    auto* const read = data[0] % 3 == 0   ? formats.read_docx
                       : data[0] % 3 == 1 ? formats.read_odt
                                          : formats.read_epub;
    rk::fuzz::read_document(data + 1, size - 1, true, read);
    return 0;
}
