// What the fuzz targets of the document readers share: a document read as rk ingest reads
// it (text readers get valid UTF-8, repaired as the preparer repairs it; binary readers the
// bytes), then checks that what the reader made is usable downstream, and cut into chunks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ingest/chunker.hpp"
#include "ingest/readers.hpp"
#include "rk/error.hpp"
#include "text/utf8.hpp"

namespace rk::fuzz {

// Aborts, so that libFuzzer keeps the input: a broken promise is as bad as a crash.
[[noreturn]] inline void broken() {
    __builtin_trap();
}

// Reads `data` with `read` (a function of std::string&, returning Parsed) as the preparer
// does, then chunks the result; an InputError is a fair answer to a bad file.
template <typename Read>
void read_document(const std::uint8_t* data, std::size_t size, bool bytes, Read read) {
    std::string text(reinterpret_cast<const char*>(data), size);
    if (!bytes) text::utf8_repair(text);
    inputs::Parsed parsed;
    try {
        parsed = read(text);
    } catch (const InputError&) {
        return;
    }
    // The segments index the text the reader left: the chunker slices it with them.
    for (const auto& seg : parsed.segments) {
        if (seg.start > seg.end || seg.end > text.size()) broken();
    }
    // The preparer masks what is still invalid (a reader of markup may cut a sequence).
    if (text::utf8_first_invalid(text)) text::utf8_mask(text);
    (void)inputs::make_chunks(text, parsed.segments, 64, 8);
}

}  // namespace rk::fuzz
