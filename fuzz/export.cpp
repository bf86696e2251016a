// An export read back as rk import reads it (transfer/format.hpp): the header line, then each
// line as a document or the last line, with its chunks checked against its text as an import
// that keeps them checks them. And the form's promise, that any bytes survive: the input as a
// record's id, title and text, written as the exporter writes them, reads back the same.
#include <sstream>
#include <string>

#include "rk/error.hpp"
#include "rk/json.hpp"
#include "rk/transfer.hpp"
#include "transfer/format.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static rk::transfer::LineParser parser;
    const std::string input(reinterpret_cast<const char*>(data), size);
    std::istringstream in(input);
    try {
        (void)rk::read_export_header(in, "fuzz");
    } catch (const rk::InputError&) {
        // Not a header: the lines are read all the same.
    }
    std::string line;
    while (std::getline(in, line)) {
        try {
            rk::transfer::Line l = parser.parse(line);
            if (l.has_chunks) rk::transfer::take_chunks(l.doc);
        } catch (const rk::InputError&) {
        }
    }

    if (input.empty()) return 0;
    rk::JsonWriter w;
    w.begin_object();
    rk::transfer::put_string(w, "id", input);
    rk::transfer::put_string(w, "title", input);
    rk::transfer::put_string(w, "text", input);
    w.end_object();
    std::string record = w.take();
    const rk::transfer::Line back = parser.parse(record);
    if (back.doc.ext_id != input || back.doc.title != input || back.doc.body != input) {
        __builtin_trap();
    }
    return 0;
}
