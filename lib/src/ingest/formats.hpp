// The formats module, librk_formats.so (see util/module.hpp): the readers and rules whose
// libraries cost most to load (poppler; libzip and libxml2; libgit2). Its sources are
// pdf.cpp, office.cpp, ignore.cpp and formats_entry.cpp; the core reaches them through
// formats_module() alone.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "ingest/ignore.hpp"
#include "ingest/readers.hpp"

namespace rk::inputs {

// PDF (poppler): each page's text in reading order, its paragraphs as segments whose heading
// is "page N" (chunks never run across pages); the title from the document's metadata, else
// its first line. Throws InputError for an encrypted or unreadable file. Replaces `data` (the
// file's bytes) with the text.
Parsed read_pdf(std::string& data);

// Office Open XML word processing (.docx), OpenDocument text (.odt) and EPUB: zip archives of
// XML. Paragraphs are segments; docx's Title and Heading1-9 styles, odt's headings and the
// h1-h6 of an EPUB's chapters (read in spine order, each as HTML) are heading paths. The
// title and author, language, subject and keywords come from the document's Dublin Core
// metadata (docProps/core.xml, meta.xml, the EPUB package), else the first heading. Throws
// InputError for what is not such an archive, lacks its main part, holds malformed XML or an
// entry over 256 MiB. Replaces `data` (the file's bytes) with the text.
Parsed read_docx(std::string& data);
Parsed read_odt(std::string& data);
Parsed read_epub(std::string& data);

// The ignore rules of ignore.hpp, matched by libgit2.
std::unique_ptr<IgnoreRules> git_ignore_rules(const std::filesystem::path& root);

// The module's functions, as the core calls them.
struct FormatsModule {
    Parsed (*read_pdf)(std::string& data);
    Parsed (*read_docx)(std::string& data);
    Parsed (*read_odt)(std::string& data);
    Parsed (*read_epub)(std::string& data);
    std::unique_ptr<IgnoreRules> (*ignore_rules)(const std::filesystem::path& root);
};

// The module's table, the module loaded on first use. Throws rk::Error when it cannot be.
const FormatsModule& formats_module();

}  // namespace rk::inputs

// The module's entry (formats_entry.cpp).
extern "C" const rk::inputs::FormatsModule* rk_formats_module();
