// Readers turn a file's text into what the chunker needs: a title, extra metadata, and the
// text's segments (paragraphs and sections, with the Markdown heading path of each).
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
    std::vector<std::pair<std::string, std::string>> meta;  // from Markdown front matter
    std::vector<Segment> segments;
};

enum class Format { text, markdown, json, jsonl };

// By file name: .md/.markdown/.mdown/.mkd/.mdx, .json, .jsonl/.ndjson; anything else is text.
Format format_for(std::string_view filename);

// Plain text: paragraphs separated by blank lines. No title.
Parsed read_text(std::string_view text);

// Markdown: YAML-style front matter (simple `key: value` lines; `title` is the title, the
// rest metadata), ATX and setext headings (the first is the title when front matter has
// none), fenced code blocks kept whole, paragraphs.
Parsed read_markdown(std::string_view text);

}  // namespace rk::inputs
