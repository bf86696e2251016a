// The formats module's entry: its table of functions.
#include "ingest/formats.hpp"

extern "C" const rk::inputs::FormatsModule* rk_formats_module() {
    static const rk::inputs::FormatsModule table{
        rk::inputs::read_pdf,  rk::inputs::read_docx,        rk::inputs::read_odt,
        rk::inputs::read_epub, rk::inputs::git_ignore_rules,
    };
    return &table;
}
