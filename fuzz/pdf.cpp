// The PDF reader in the formats module (poppler, then rk's paragraphs and pages).
#include "ingest/formats.hpp"
#include "read_document.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const auto& formats = rk::inputs::formats_module();
    rk::fuzz::read_document(data, size, true, formats.read_pdf);
    return 0;
}
