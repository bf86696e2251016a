// What every file goes through before a reader: the encoding (a byte order mark, uchardet's
// guess, iconv), the choice of reader by name and first bytes, and the plain text reader.
// The first byte picks a file name from a few that lead to different readers.
#include <array>

#include "read_document.hpp"
#include "text/encoding.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    static constexpr std::array<std::string_view, 8> kNames = {
        "", "notes.txt", "README", "page.html", "ls.1", "run", "doc.md", "data.bin"};
    const std::string_view name = kNames[data[0] % kNames.size()];
    ++data;
    --size;
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    (void)rk::inputs::reader_for(name, bytes);
    (void)rk::text::looks_binary(bytes);
    if (auto bom = rk::text::byte_order_mark(bytes)) {
        try {
            (void)rk::text::decode(bytes.substr(bom->bytes), bom->encoding);
        } catch (const rk::InputError&) {
        }
    } else if (auto guess = rk::text::detect_encoding(bytes)) {
        try {
            (void)rk::text::decode(bytes, *guess);
        } catch (const rk::InputError&) {
        }
    }
    rk::fuzz::read_document(data, size, false,
                            [](std::string& text) { return rk::inputs::read_text(text); });
    return 0;
}
