// Documents that are zip archives of XML: Office Open XML word processing (.docx), OpenDocument
// text (.odt) and EPUB. libzip reads the archive, libxml2 the XML (streaming, no network, no
// external entities), gumbo an EPUB's XHTML (through the HTML reader).
#include <fmt/format.h>
#include <libxml/xmlreader.h>
#include <zip.h>

#include <algorithm>
#include <climits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ingest/formats.hpp"
#include "rk/error.hpp"

namespace rk::inputs {

namespace {

// An entry larger than this is refused: a few KB of zip can claim gigabytes.
constexpr zip_uint64_t kMaxEntry = zip_uint64_t{256} << 20;
// An EPUB's chapters together, likewise.
constexpr std::size_t kMaxBook = std::size_t{1} << 30;

class Zip {
  public:
    Zip(std::string_view data, std::string_view format) : format_(format) {
        zip_error_t error;
        zip_error_init(&error);
        zip_source_t* src = zip_source_buffer_create(data.data(), data.size(), 0, &error);
        if (src != nullptr) {
            zip_ = zip_open_from_source(src, ZIP_RDONLY, &error);
            if (zip_ == nullptr) zip_source_free(src);
        }
        if (zip_ == nullptr) {
            const std::string what = zip_error_strerror(&error);
            zip_error_fini(&error);
            throw InputError(fmt::format("not a valid {} (not a zip archive: {})", format_, what));
        }
        zip_error_fini(&error);
    }
    Zip(const Zip&) = delete;
    Zip& operator=(const Zip&) = delete;
    ~Zip() { zip_discard(zip_); }

    // The entry named `name`, or nullopt when there is none.
    std::optional<std::string> entry(const std::string& name) const {
        zip_stat_t st;
        zip_stat_init(&st);
        if (zip_stat(zip_, name.c_str(), 0, &st) != 0) return std::nullopt;
        if ((st.valid & ZIP_STAT_SIZE) == 0 || st.size > kMaxEntry) {
            throw InputError(fmt::format("not read: {} in the {} is larger than {} MiB", name,
                                         format_, kMaxEntry >> 20));
        }
        const std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> f(zip_fopen(zip_, name.c_str(), 0),
                                                                  zip_fclose);
        if (!f) throw InputError(fmt::format("not a valid {}: cannot open {}", format_, name));
        std::string out(static_cast<std::size_t>(st.size), '\0');
        zip_uint64_t got = 0;
        while (got < st.size) {
            const zip_int64_t n = zip_fread(f.get(), out.data() + got, st.size - got);
            if (n <= 0) {
                throw InputError(fmt::format("not a valid {}: {} is damaged", format_, name));
            }
            got += static_cast<zip_uint64_t>(n);
        }
        return out;
    }

    std::string required(const std::string& name) const {
        auto e = entry(name);
        if (!e) throw InputError(fmt::format("not a valid {}: it has no {}", format_, name));
        return std::move(*e);
    }

  private:
    zip_t* zip_ = nullptr;
    std::string format_;
};

// A streaming XML reader over one entry. Never loads external entities or DTDs, never goes
// to the network; errors are collected instead of printed.
class Xml {
  public:
    // The reader reads `xml` in place, so it keeps it.
    Xml(std::string xml, std::string where) : xml_(std::move(xml)), where_(std::move(where)) {
        static std::once_flag init;
        std::call_once(init, [] { xmlInitParser(); });
        if (xml_.size() > static_cast<std::size_t>(INT_MAX)) {
            throw InputError(fmt::format("cannot read {}: too large", where_));
        }
        reader_ = xmlReaderForMemory(xml_.data(), static_cast<int>(xml_.size()), nullptr, nullptr,
                                     XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (reader_ == nullptr) {
            throw InputError(fmt::format("cannot read {}", where_));
        }
        xmlTextReaderSetStructuredErrorHandler(
            reader_,
            [](void* ctx, xmlErrorPtr e) {
                auto* self = static_cast<Xml*>(ctx);
                if (self->error_.empty() && e != nullptr && e->message != nullptr) {
                    self->error_ = fmt::format("line {}: {}", e->line, e->message);
                    while (!self->error_.empty() && self->error_.back() == '\n') {
                        self->error_.pop_back();
                    }
                }
            },
            this);
    }
    Xml(const Xml&) = delete;
    Xml& operator=(const Xml&) = delete;
    ~Xml() { xmlFreeTextReader(reader_); }

    // Advances to the next node; false at the end. Throws InputError for malformed XML.
    bool next() {
        const int rc = xmlTextReaderRead(reader_);
        if (rc < 0) {
            throw InputError(fmt::format("{} is not well-formed XML ({})", where_,
                                         error_.empty() ? "unreadable" : error_));
        }
        return rc == 1;
    }
    // Passes over the element at hand and all it holds: the reader then stands on its end.
    void skip_element() {
        if (!start() || end()) return;
        const int d = depth();
        while (next()) {
            if (end() && depth() == d) return;
        }
    }
    [[nodiscard]] bool start() const {
        return xmlTextReaderNodeType(reader_) == XML_READER_TYPE_ELEMENT;
    }
    [[nodiscard]] bool end() const {
        return xmlTextReaderNodeType(reader_) == XML_READER_TYPE_END_ELEMENT ||
               (start() && xmlTextReaderIsEmptyElement(reader_) == 1);
    }
    [[nodiscard]] bool text() const {
        const int t = xmlTextReaderNodeType(reader_);
        return t == XML_READER_TYPE_TEXT || t == XML_READER_TYPE_CDATA ||
               t == XML_READER_TYPE_SIGNIFICANT_WHITESPACE;
    }
    [[nodiscard]] std::string_view name() const {
        return view(xmlTextReaderConstLocalName(reader_));
    }
    [[nodiscard]] std::string_view value() const { return view(xmlTextReaderConstValue(reader_)); }
    [[nodiscard]] int depth() const { return xmlTextReaderDepth(reader_); }
    // An attribute by local name, whatever its namespace.
    [[nodiscard]] std::string attribute(std::string_view local) const {
        std::string out;
        if (xmlTextReaderMoveToFirstAttribute(reader_) != 1) return out;
        do {
            if (view(xmlTextReaderConstLocalName(reader_)) == local) {
                out = view(xmlTextReaderConstValue(reader_));
                break;
            }
        } while (xmlTextReaderMoveToNextAttribute(reader_) == 1);
        xmlTextReaderMoveToElement(reader_);
        return out;
    }

  private:
    static std::string_view view(const xmlChar* s) {
        return s == nullptr ? std::string_view{} : reinterpret_cast<const char*>(s);
    }
    std::string xml_;
    xmlTextReaderPtr reader_ = nullptr;
    std::string where_, error_;
};

// Builds the document: paragraphs and headings, each a segment, a blank line between them.
class Builder {
  public:
    void text(std::string_view t) { para_ += t; }
    void heading_level(int level) { level_ = level; }
    // Ends the paragraph (or heading) at hand.
    void flush() {
        std::string_view t = para_;
        while (!t.empty() && (t.front() == ' ' || t.front() == '\n')) t.remove_prefix(1);
        while (!t.empty() && (t.back() == ' ' || t.back() == '\n')) t.remove_suffix(1);
        if (!t.empty()) {
            const bool heading = level_ > 0;
            if (heading) {
                while (!headings_.empty() && headings_.back().first >= level_) {
                    headings_.pop_back();
                }
                headings_.emplace_back(level_, std::string(t));
                if (first_heading_.empty()) first_heading_ = std::string(t);
            }
            const std::size_t start = out_.size();
            out_ += t;
            p_.segments.push_back({start, out_.size(), heading_path(headings_), heading});
            out_ += "\n\n";
        }
        para_.clear();
        level_ = 0;
    }
    Parsed finish(std::string& text, std::string title) {
        flush();
        while (!out_.empty() && out_.back() == '\n') out_.pop_back();
        p_.title = title.empty() ? first_heading_ : std::move(title);
        text = std::move(out_);
        return std::move(p_);
    }
    Parsed& parsed() { return p_; }

  private:
    Parsed p_;
    std::string out_, para_, first_heading_;
    std::vector<std::pair<int, std::string>> headings_;
    int level_ = 0;
};

// Dublin Core metadata (title, creator, language, subject) from docProps/core.xml, meta.xml or
// an EPUB's package document; returns the title and adds the rest to `meta`.
std::string dublin_core(std::string xml, const std::string& where,
                        std::vector<std::pair<std::string, std::string>>& meta) {
    Xml x(std::move(xml), where);
    std::string title, field, value;
    while (x.next()) {
        if (x.start() && !x.end()) {
            field = x.name();
            value.clear();
        } else if (x.text() && !field.empty()) {
            value += x.value();
        } else if (x.end() && !field.empty()) {
            const auto first = value.find_first_not_of(" \t\r\n");
            const std::string v =
                first == std::string::npos
                    ? std::string()
                    : value.substr(first, value.find_last_not_of(" \t\r\n") - first + 1);
            if (!v.empty()) {
                if (field == "title" && title.empty()) title = v;
                if (field == "creator" || field == "initial-creator")
                    meta.emplace_back("author", v);
                if (field == "language") meta.emplace_back("lang", v);
                if (field == "subject" || field == "description") meta.emplace_back(field, v);
                if (field == "keywords" || field == "keyword") meta.emplace_back("keywords", v);
            }
            field.clear();
        }
    }
    return title;
}

// The metadata of a document whose text is elsewhere: a damaged or missing metadata part costs
// the title (the first heading stands in), not the document.
std::string optional_metadata(const Zip& zip, const std::string& name,
                              std::vector<std::pair<std::string, std::string>>& meta) {
    try {
        if (auto xml = zip.entry(name)) return dublin_core(std::move(*xml), name, meta);
    } catch (const InputError&) {
        meta.clear();
    }
    return {};
}

// The level of a paragraph style: "Title" 1, "Heading1" 2, "Heading2" 3 (Word's built-in
// style ids, which localised names keep), so that headings go under the title as sections
// go under a Markdown document's first heading; 0 for others.
int docx_heading(std::string_view style) {
    if (style == "Title") return 1;
    if (style.starts_with("Heading") && style.size() == 8 && style[7] >= '1' && style[7] <= '9') {
        return style[7] - '0' + 1;
    }
    return 0;
}

}  // namespace

Parsed read_docx(std::string& data) {
    const Zip zip(data, "DOCX");
    Builder b;
    {
        Xml x(zip.required("word/document.xml"), "word/document.xml");
        while (x.next()) {
            const std::string_view n = x.name();
            if (x.start()) {
                if (n == "instrText" || n == "delText" || n == "footnoteReference") {
                    x.skip_element();  // its text is not the document's
                } else if (n == "pStyle") {
                    b.heading_level(docx_heading(x.attribute("val")));
                } else if (n == "tab") {
                    b.text(" ");
                } else if (n == "br" || n == "cr") {
                    b.text("\n");
                }
                if (n == "p" && x.end()) b.flush();
            } else if (x.end() && n == "p") {
                b.flush();
            } else if (x.text()) {
                b.text(x.value());
            }
        }
    }
    return b.finish(data, optional_metadata(zip, "docProps/core.xml", b.parsed().meta));
}

Parsed read_odt(std::string& data) {
    const Zip zip(data, "ODT");
    Builder b;
    {
        Xml x(zip.required("content.xml"), "content.xml");
        bool body = false;  // inside office:text (not the styles and declarations)
        while (x.next()) {
            const std::string_view n = x.name();
            if (x.start()) {
                if (n == "text" && !x.end()) body = true;
                if (!body) continue;
                if (n == "annotation" || n == "note-citation" || n == "tracked-changes") {
                    x.skip_element();  // its text is not the document's
                } else if (n == "h" || n == "p") {
                    b.flush();
                    if (n == "h") {
                        const std::string level = x.attribute("outline-level");
                        const int l = level.size() == 1 && level[0] >= '1' && level[0] <= '9'
                                          ? level[0] - '0'
                                          : 1;
                        b.heading_level(l);
                    }
                    if (x.end()) b.flush();
                } else if (n == "s" || n == "tab") {
                    b.text(" ");
                } else if (n == "line-break") {
                    b.text("\n");
                }
            } else if (x.end() && (n == "h" || n == "p")) {
                b.flush();
            } else if (x.text() && body) {
                b.text(x.value());
            }
        }
    }
    return b.finish(data, optional_metadata(zip, "meta.xml", b.parsed().meta));
}

Parsed read_epub(std::string& data) {
    const Zip zip(data, "EPUB");
    // META-INF/container.xml names the package document; it lists the content in reading
    // order (the spine).
    std::string package;
    {
        Xml x(zip.required("META-INF/container.xml"), "META-INF/container.xml");
        while (package.empty() && x.next()) {
            if (x.start() && x.name() == "rootfile") package = x.attribute("full-path");
        }
    }
    if (package.empty()) throw InputError("not a valid EPUB: its container names no package");
    const std::string opf = zip.required(package);
    const std::string dir = package.substr(0, package.find_last_of('/') + 1);
    std::unordered_map<std::string, std::string> manifest;  // id -> href
    std::vector<std::string> spine;
    {
        Xml x(std::string(opf), package);
        while (x.next()) {
            if (!x.start()) continue;
            if (x.name() == "item") manifest.emplace(x.attribute("id"), x.attribute("href"));
            if (x.name() == "itemref") spine.push_back(x.attribute("idref"));
        }
    }
    Parsed p;
    p.title = dublin_core(opf, package, p.meta);
    std::string out;
    std::unordered_set<std::string> read;  // a chapter the spine lists again is read once
    std::size_t total = 0;
    for (const auto& id : spine) {
        const auto it = manifest.find(id);
        if (it == manifest.end() || !read.insert(id).second) continue;
        // Hrefs are relative to the package document, percent-encoded as URLs.
        std::string href;
        const auto hex = [](char h) {
            return h >= '0' && h <= '9'   ? h - '0'
                   : h >= 'a' && h <= 'f' ? h - 'a' + 10
                   : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                          : -1;
        };
        for (std::size_t i = 0; i < it->second.size(); ++i) {
            const char c = it->second[i];
            if (c == '%' && i + 2 < it->second.size() && hex(it->second[i + 1]) >= 0 &&
                hex(it->second[i + 2]) >= 0) {
                href += static_cast<char>(hex(it->second[i + 1]) * 16 + hex(it->second[i + 2]));
                i += 2;
            } else if (c == '#') {
                break;
            } else {
                href += c;
            }
        }
        auto chapter = zip.entry(dir + href);
        if (!chapter) continue;
        total += chapter->size();
        if (total > kMaxBook) {
            throw InputError(
                fmt::format("not read: the EPUB's chapters hold more than {} MiB", kMaxBook >> 20));
        }
        const Parsed c = read_html(*chapter);
        if (chapter->empty()) continue;
        if (!out.empty()) out += "\n\n";
        const std::size_t shift = out.size();
        out += *chapter;
        for (auto s : c.segments) {
            s.start += shift;
            s.end += shift;
            p.segments.push_back(std::move(s));
        }
        if (p.title.empty()) p.title = c.title;
    }
    data = std::move(out);
    return p;
}

}  // namespace rk::inputs
