// The source code reader: each language's lexer finding the top level, and the names of
// definitions. The first byte picks the language, the rest is the file.
#include "ingest/code.hpp"

#include "read_document.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const auto languages = rk::inputs::languages();
    const auto& language = languages[data[0] % languages.size()];
    rk::fuzz::read_document(data + 1, size - 1, false, [&](std::string& text) {
        return rk::inputs::read_code(text, language);
    });
    const std::string_view header(reinterpret_cast<const char*>(data + 1), size - 1);
    (void)rk::inputs::definition_name(header, language.calls_define);
    return 0;
}
