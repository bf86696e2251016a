// PDF documents: the text of each page in reading order, by poppler (Debian's poppler-cpp).
#include <fmt/format.h>
#include <poppler/cpp/poppler-document.h>
#include <poppler/cpp/poppler-global.h>
#include <poppler/cpp/poppler-page.h>

#include <climits>
#include <memory>
#include <string>

#include "ingest/formats.hpp"
#include "rk/error.hpp"

namespace rk::inputs {

namespace {

std::string utf8(const poppler::ustring& s) {
    const poppler::byte_array bytes = s.to_utf8();
    return {bytes.begin(), bytes.end()};
}

std::string trimmed(const std::string& s) {
    const auto b = s.find_first_not_of(" \t\r\n\f\v");
    if (b == std::string::npos) return {};
    const auto e = s.find_last_not_of(" \t\r\n\f\v");
    return s.substr(b, e - b + 1);
}

// poppler reports what it finds wrong in a file on stderr; rk says once what failed instead.
void quiet(const std::string& /*message*/, void* /*closure*/) {}

}  // namespace

Parsed read_pdf(std::string& data) {
    static const bool silenced = [] {
        poppler::set_debug_error_function(quiet, nullptr);
        return true;
    }();
    (void)silenced;
    if (data.size() > static_cast<std::size_t>(INT_MAX)) {
        throw InputError("a PDF of 2 GiB or more: not read");
    }
    const std::unique_ptr<poppler::document> doc(
        poppler::document::load_from_raw_data(data.data(), static_cast<int>(data.size())));
    if (!doc) throw InputError("not a readable PDF (damaged, or not a PDF)");
    if (doc->is_locked()) {
        throw InputError("an encrypted PDF that needs a password: not read");
    }
    Parsed p;
    p.title = trimmed(utf8(doc->get_title()));
    std::string text;
    for (int i = 0; i < doc->pages(); ++i) {
        const std::unique_ptr<poppler::page> page(doc->create_page(i));
        if (!page) continue;
        // (poppler ends a page's text with a form feed.)
        std::string page_text =
            utf8(page->text(poppler::rectf(), poppler::page::non_raw_non_physical_layout));
        for (char& c : page_text) {
            if (c == '\f') c = '\n';
        }
        while (!page_text.empty() && (page_text.back() == '\n' || page_text.back() == ' ')) {
            page_text.pop_back();
        }
        if (page_text.empty()) continue;
        // Each page's paragraphs, the first one opening the page's section: chunks never run
        // across pages, and each says its page in its heading.
        const std::string heading = fmt::format("page {}", i + 1);
        const std::size_t base = text.size();
        const Parsed page_parts = read_text(page_text);
        bool first = true;
        for (const auto& s : page_parts.segments) {
            p.segments.push_back({base + s.start, base + s.end, heading, first});
            first = false;
        }
        text += page_text;
        text += "\n\n";
    }
    while (!text.empty() && text.back() == '\n') text.pop_back();
    if (p.title.empty() && !p.segments.empty()) {
        const auto& s = p.segments.front();
        std::string first_line = text.substr(s.start, s.end - s.start);
        first_line = trimmed(first_line.substr(0, first_line.find('\n')));
        if (first_line.size() <= 200) p.title = first_line;
    }
    data = std::move(text);
    return p;
}

}  // namespace rk::inputs
