// Readers turn a file's text into what the chunker needs: a title, extra metadata, and the
// text's segments (paragraphs and sections, with the heading path of each).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rk::inputs {

struct Segment {
    std::size_t start = 0, end = 0;  // byte range in the document's text
    std::string heading;             // "Install > Debian", or empty
    bool section_start = false;      // a heading: chunks never run across it
};

struct Parsed {
    std::string title;
    std::vector<std::pair<std::string, std::string>> meta;  // front matter, <meta> and the like
    std::vector<Segment> segments;
};

// How a file holds documents: one document (read by its Reader), or JSON/JSONL records.
enum class Format { document, json, jsonl };

// By file name: .json, .jsonl/.ndjson; anything else is a document. A ".gz" suffix (a
// gzip-compressed file) is passed over.
Format format_for(std::string_view filename);

// Whether the file name says gzip (".gz"), and the name without that suffix.
bool gzip_name(std::string_view filename);
std::string_view without_gz(std::string_view filename);

// Reads one kind of document. Each reader claims files by name, or by their first bytes when
// the name says nothing of the format; reader_for() asks them in turn.
class Reader {
  public:
    Reader() = default;
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;
    virtual ~Reader() = default;

    // "text", "markdown", "html".
    [[nodiscard]] virtual std::string_view name() const = 0;
    // Whether the file is this reader's: by its name, or by `head` (its first bytes).
    [[nodiscard]] virtual bool claims(std::string_view filename, std::string_view head) const = 0;
    // Whether read() takes the file's bytes as they are (a binary format), rather than text
    // already decoded to valid UTF-8.
    [[nodiscard]] virtual bool reads_bytes() const { return false; }
    // Reads a document from `text` (valid UTF-8, or the file's bytes when reads_bytes()). A
    // reader of markup or of a binary format replaces `text` with the document's text as a
    // reader sees it: that is what rk stores, chunks and shows. Throws InputError for a file
    // it cannot read.
    virtual Parsed read(std::string& text) const = 0;
};

// The reader of a file named `filename` (empty for standard input) whose first bytes are
// `head`: PDF by name (.pdf) or by its "%PDF-" header; Markdown by name; HTML by name (.html,
// .htm, .xhtml) or by its first tag; DOCX, ODT and EPUB by name, the last two also by their
// zip's first entry (mimetype); a man page by its requests (looks_like_roff); source code by
// name or #! (language_for); else text.
const Reader& reader_for(std::string_view filename, std::string_view head);

// Plain text: paragraphs separated by blank lines. No title.
Parsed read_text(std::string_view text);

// Markdown: YAML-style front matter (simple `key: value` lines; `title` is the title, the
// rest metadata), ATX and setext headings (the first is the title when front matter has
// none), fenced code blocks kept whole, paragraphs.
Parsed read_markdown(std::string_view text);

// HTML and XHTML, parsed as a browser would (gumbo, the HTML5 parsing algorithm): the visible
// text, with paragraphs, list items, table rows and the like as segments and h1-h6 as heading
// paths, entities decoded; script, style, template, nav and what is marked hidden left out.
// The title is <title>'s text, else the first h1's; <meta> description, author and keywords
// and <html lang> become metadata. Replaces `text` with the visible text.
Parsed read_html(std::string& text);

// A man page, man(7) or mdoc(7), with its tbl(1) tables: the text a reader sees, less the
// layout (escapes, fonts and requests interpreted; conditions judged as nroff would), its
// paragraphs as segments under its sections (.SH and .SS as heading paths). The title is the
// NAME section's line ("ls - list directory contents"), else .TH's name and section; the
// section becomes metadata ("section"). Replaces `text` with the page's text.
Parsed read_roff(std::string& text);

// Whether `head` starts as a man page does: comments and requests up to a .TH or .Dd, or,
// when `named_as_page` (the file's name ends in a manual section, ".1", ".3pm", ".man"), any
// request before the first line of text.
bool looks_like_roff(std::string_view head, bool named_as_page);

// The segments rk ingest cut a stored document's text at, as far as the text alone tells (an
// import of an export without chunks cuts it again): those of the reader that its file's name
// (`source`) and the text select, or for standard input's text (`id` "stdin:...") the text, when
// that reader reads the text as it is (plain text, Markdown, source code); otherwise (markup
// and binary formats, whose structure went with their markup; records) its paragraphs.
std::vector<Segment> stored_segments(std::string_view id, std::string_view source,
                                     std::string_view text);

// "Guide > Install" for a stack of (level, heading) pairs.
std::string heading_path(const std::vector<std::pair<int, std::string>>& stack);

}  // namespace rk::inputs
