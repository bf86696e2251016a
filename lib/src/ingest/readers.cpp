#include "ingest/readers.hpp"

#include <algorithm>
#include <cctype>
#include <deque>
#include <initializer_list>
#include <optional>
#include <vector>

#include "ingest/code.hpp"
#include "ingest/formats.hpp"
#include "rk/error.hpp"

namespace rk::inputs {

namespace {

bool ends_with_ci(std::string_view s, std::string_view suffix) {
    if (s.size() < suffix.size()) return false;
    return std::equal(suffix.begin(), suffix.end(), s.end() - static_cast<long>(suffix.size()),
                      [](char a, char b) {
                          return std::tolower(static_cast<unsigned char>(a)) ==
                                 std::tolower(static_cast<unsigned char>(b));
                      });
}

bool is_blank(std::string_view line) {
    return line.find_first_not_of(" \t\r\f\v") == std::string_view::npos;
}

std::string_view trim(std::string_view s) {
    const auto b = s.find_first_not_of(" \t\r\n\f\v");
    if (b == std::string_view::npos) return {};
    const auto e = s.find_last_not_of(" \t\r\n\f\v");
    return s.substr(b, e - b + 1);
}

// Iterates lines as (start offset, line without its '\n').
template <typename F>
void for_each_line(std::string_view text, std::size_t from, F&& f) {
    std::size_t pos = from;
    while (pos < text.size()) {
        std::size_t nl = text.find('\n', pos);
        if (nl == std::string_view::npos) nl = text.size();
        f(pos, text.substr(pos, nl - pos));
        pos = nl + 1;
    }
}

// Leading spaces, up to 3, as CommonMark allows before block markers.
std::size_t indent_of(std::string_view line) {
    std::size_t i = 0;
    while (i < line.size() && i < 4 && line[i] == ' ') ++i;
    return i;
}

std::optional<std::pair<int, std::string_view>> atx_heading(std::string_view line) {
    const std::size_t ind = indent_of(line);
    if (ind > 3) return std::nullopt;
    std::size_t i = ind;
    while (i < line.size() && line[i] == '#') ++i;
    const auto level = static_cast<int>(i - ind);
    if (level < 1 || level > 6) return std::nullopt;
    if (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') {
        return std::nullopt;
    }
    std::string_view rest = trim(line.substr(i));
    // Closing #s, when separated by a space, are not part of the heading.
    const auto last = rest.find_last_not_of('#');
    if (last == std::string_view::npos) {
        rest = {};
    } else if (last + 1 < rest.size() && (rest[last] == ' ' || rest[last] == '\t')) {
        rest = trim(rest.substr(0, last));
    }
    return std::make_pair(level, rest);
}

std::optional<int> setext_underline(std::string_view line) {
    const std::string_view t = trim(line);
    if (indent_of(line) > 3 || t.empty()) return std::nullopt;
    if (t.find_first_not_of('=') == std::string_view::npos) return 1;
    if (t.find_first_not_of('-') == std::string_view::npos) return 2;
    return std::nullopt;
}

std::optional<std::string_view> fence_of(std::string_view line) {
    const std::size_t ind = indent_of(line);
    if (ind > 3 || ind >= line.size()) return std::nullopt;
    const char c = line[ind];
    if (c != '`' && c != '~') return std::nullopt;
    std::size_t n = ind;
    while (n < line.size() && line[n] == c) ++n;
    if (n - ind < 3) return std::nullopt;
    return line.substr(ind, n - ind);
}

std::string unquote(std::string_view v) {
    v = trim(v);
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
        v = v.substr(1, v.size() - 2);
    }
    return std::string(v);
}

class MarkdownReader final : public Reader {
  public:
    [[nodiscard]] std::string_view name() const override { return "markdown"; }
    [[nodiscard]] bool claims(std::string_view filename, std::string_view) const override {
        return std::any_of(std::begin(kExtensions), std::end(kExtensions),
                           [&](const char* ext) { return ends_with_ci(filename, ext); });
    }
    Parsed read(std::string& text) const override { return read_markdown(text); }

  private:
    static constexpr const char* kExtensions[] = {".md", ".markdown", ".mdown", ".mkd", ".mdx"};
};

class HtmlReader final : public Reader {
  public:
    [[nodiscard]] std::string_view name() const override { return "html"; }
    [[nodiscard]] bool claims(std::string_view filename, std::string_view head) const override {
        for (const char* ext : {".html", ".htm", ".xhtml", ".shtml"}) {
            if (ends_with_ci(filename, ext)) return true;
        }
        // Content decides only for names that do not say they are something else.
        const auto dot = filename.rfind('.');
        const auto slash = filename.find_last_of('/');
        const bool plain = dot == std::string_view::npos ||
                           (slash != std::string_view::npos && dot < slash) ||
                           ends_with_ci(filename, ".txt");
        if (!plain) return false;
        head = trim(head.substr(0, 512));
        for (const std::string_view start : {"<!doctype html", "<html"}) {
            if (head.size() >= start.size() &&
                std::equal(start.begin(), start.end(), head.begin(), [](char a, char b) {
                    return a == std::tolower(static_cast<unsigned char>(b));
                })) {
                return true;
            }
        }
        return false;
    }
    Parsed read(std::string& text) const override { return read_html(text); }
};

class PdfReader final : public Reader {
  public:
    [[nodiscard]] std::string_view name() const override { return "pdf"; }
    [[nodiscard]] bool claims(std::string_view filename, std::string_view head) const override {
        return ends_with_ci(filename, ".pdf") || head.starts_with("%PDF-");
    }
    [[nodiscard]] bool reads_bytes() const override { return true; }
    Parsed read(std::string& text) const override { return formats_module().read_pdf(text); }
};

// DOCX, ODT and EPUB: zip archives, claimed by name, or by the mimetype entry that ODT and
// EPUB store first and uncompressed so that it can be read at a fixed offset.
class ZipXmlReader final : public Reader {
  public:
    using Read = Parsed (*)(std::string&);
    ZipXmlReader(std::string_view name, std::initializer_list<std::string_view> extensions,
                 std::string_view mimetype, Read reader)
        : name_(name), extensions_(extensions), mimetype_(mimetype), read_(reader) {}
    [[nodiscard]] std::string_view name() const override { return name_; }
    [[nodiscard]] bool claims(std::string_view filename, std::string_view head) const override {
        for (const auto ext : extensions_) {
            if (ends_with_ci(filename, ext)) return true;
        }
        return !mimetype_.empty() && head.size() >= 38 + mimetype_.size() &&
               head.starts_with("PK\x03\x04") && head.substr(30, 8) == "mimetype" &&
               head.substr(38).starts_with(mimetype_);
    }
    [[nodiscard]] bool reads_bytes() const override { return true; }
    Parsed read(std::string& text) const override { return read_(text); }

  private:
    std::string_view name_;
    std::vector<std::string_view> extensions_;
    std::string_view mimetype_;
    Read read_;
};

class RoffReader final : public Reader {
  public:
    [[nodiscard]] std::string_view name() const override { return "man"; }
    [[nodiscard]] bool claims(std::string_view filename, std::string_view head) const override {
        // "ls.1", "printf.3p", "ssl.1ssl", "tclsh.n", "page.man": a manual section's name.
        const auto slash = filename.find_last_of('/');
        const auto dot = filename.rfind('.');
        const bool has_ext = dot != std::string_view::npos &&
                             (slash == std::string_view::npos || dot > slash) &&
                             dot + 1 < filename.size();
        const std::string_view ext = has_ext ? filename.substr(dot + 1) : std::string_view{};
        const bool section =
            (!ext.empty() && ((ext[0] >= '1' && ext[0] <= '9') || ext == "n" || ext == "l")) &&
            ext.size() <= 6 && std::all_of(ext.begin(), ext.end(), [](char c) {
                return std::isalnum(static_cast<unsigned char>(c)) != 0;
            });
        const bool named = section || ends_with_ci(filename, ".man") ||
                           ends_with_ci(filename, ".mdoc") || ends_with_ci(filename, ".roff");
        // Content alone decides only for names that say nothing else.
        const bool plain = !has_ext || ends_with_ci(filename, ".txt");
        if (!named && !plain) return false;
        return looks_like_roff(head.substr(0, 1 << 16), named);
    }
    Parsed read(std::string& text) const override { return read_roff(text); }
};

// One per language: the reader that claims a file knows its language.
class CodeReader final : public Reader {
  public:
    explicit CodeReader(const Language& language) : language_(language) {}
    [[nodiscard]] std::string_view name() const override { return "code"; }
    [[nodiscard]] bool claims(std::string_view filename, std::string_view head) const override {
        return language_for(filename, head) == &language_;
    }
    Parsed read(std::string& text) const override { return read_code(text, language_); }

  private:
    const Language& language_;
};

class TextReader final : public Reader {
  public:
    [[nodiscard]] std::string_view name() const override { return "text"; }
    [[nodiscard]] bool claims(std::string_view, std::string_view) const override { return true; }
    Parsed read(std::string& text) const override { return read_text(text); }
};

// The office formats, read by the formats module.
Parsed read_docx_file(std::string& data) {
    return formats_module().read_docx(data);
}
Parsed read_odt_file(std::string& data) {
    return formats_module().read_odt(data);
}
Parsed read_epub_file(std::string& data) {
    return formats_module().read_epub(data);
}

}  // namespace

bool gzip_name(std::string_view filename) {
    return filename.size() > 3 && ends_with_ci(filename, ".gz");
}

std::string_view without_gz(std::string_view filename) {
    return gzip_name(filename) ? filename.substr(0, filename.size() - 3) : filename;
}

Format format_for(std::string_view name) {
    name = without_gz(name);
    if (ends_with_ci(name, ".jsonl") || ends_with_ci(name, ".ndjson")) return Format::jsonl;
    if (ends_with_ci(name, ".json")) return Format::json;
    return Format::document;
}

const Reader& reader_for(std::string_view filename, std::string_view head) {
    static const PdfReader pdf;
    static const MarkdownReader markdown;
    static const HtmlReader html;
    static const ZipXmlReader docx("docx", {".docx", ".docm", ".dotx"}, "", read_docx_file);
    static const ZipXmlReader odt("odt", {".odt", ".ott"},
                                  "application/vnd.oasis.opendocument.text", read_odt_file);
    static const ZipXmlReader epub("epub", {".epub"}, "application/epub+zip", read_epub_file);
    static const RoffReader roff;
    static const TextReader text;  // claims everything: last
    static const Reader* const kReaders[] = {&pdf, &markdown, &html, &docx,
                                             &odt, &epub,     &roff, &text};
    static const std::deque<CodeReader> code = [] {
        std::deque<CodeReader> readers;
        for (const Language& l : languages()) readers.emplace_back(l);
        return readers;
    }();
    for (const Reader* r : kReaders) {
        if (r == &text) {
            if (const Language* l = language_for(filename, head)) {
                return code[static_cast<std::size_t>(l - languages().data())];
            }
        }
        if (r->claims(filename, head)) return *r;
    }
    return text;
}

std::vector<Segment> stored_segments(std::string_view id, std::string_view source,
                                     std::string_view text) {
    const std::string_view name = source.substr(source.find_last_of('/') + 1);
    const bool document =
        source.empty() ? id.starts_with("stdin:") : format_for(name) == Format::document;
    if (document) {
        const Reader& reader = reader_for(without_gz(name), text);
        if (!reader.reads_bytes()) {
            std::string copy(text);
            try {
                Parsed parsed = reader.read(copy);
                if (copy == text) return std::move(parsed.segments);
            } catch (const InputError&) {
                // Not this reader's any more: cut at paragraphs.
            }
        }
    }
    return read_text(text).segments;
}

std::string heading_path(const std::vector<std::pair<int, std::string>>& stack) {
    std::string out;
    for (const auto& [level, text] : stack) {
        if (!out.empty()) out += " > ";
        out += text;
    }
    return out;
}

Parsed read_text(std::string_view text) {
    Parsed p;
    constexpr std::size_t kNone = std::string_view::npos;
    std::size_t para_start = kNone;
    std::size_t para_end = 0;
    for_each_line(text, 0, [&](std::size_t at, std::string_view line) {
        if (is_blank(line)) {
            if (para_start != kNone) p.segments.push_back({para_start, para_end, {}, false});
            para_start = kNone;
            return;
        }
        if (para_start == kNone) para_start = at;
        para_end = at + line.size();
    });
    if (para_start != kNone) p.segments.push_back({para_start, para_end, {}, false});
    return p;
}

Parsed read_markdown(std::string_view text) {
    Parsed p;
    std::size_t body = 0;
    // Front matter: "---" on the first line, closed by "---" or "...".
    if (text.starts_with("---\n") || text.starts_with("---\r\n")) {
        std::size_t pos = text.find('\n') + 1;
        std::vector<std::pair<std::string, std::string>> fields;
        bool closed = false;
        while (pos < text.size()) {
            std::size_t nl = text.find('\n', pos);
            if (nl == std::string_view::npos) nl = text.size();
            const std::string_view line = text.substr(pos, nl - pos);
            pos = std::min(nl + 1, text.size());
            const std::string_view t = trim(line);
            if (t == "---" || t == "...") {
                closed = true;
                break;
            }
            const auto colon = line.find(':');
            if (colon != std::string_view::npos && colon > 0 && line[0] != ' ' && line[0] != '-' &&
                line[0] != '#') {
                const std::string key(trim(line.substr(0, colon)));
                std::string value = unquote(line.substr(colon + 1));
                if (!value.empty()) fields.emplace_back(key, std::move(value));
            }
        }
        if (closed) {
            body = pos;
            for (auto& [k, v] : fields) {
                if (k == "title" && p.title.empty()) {
                    p.title = v;
                } else {
                    p.meta.emplace_back(k, v);
                }
            }
        }
    }

    std::vector<std::pair<int, std::string>> stack;
    constexpr std::size_t kNone = std::string_view::npos;
    std::size_t block_start = kNone;
    std::size_t block_end = 0;
    int block_lines = 0;
    std::optional<std::string> fence;  // the open fence's marker
    std::string first_heading;

    auto flush = [&] {
        if (block_start != kNone) {
            p.segments.push_back({block_start, block_end, heading_path(stack), false});
        }
        block_start = kNone;
        block_lines = 0;
    };
    auto open_section = [&](int level, std::string_view title, std::size_t start, std::size_t end) {
        while (!stack.empty() && stack.back().first >= level) stack.pop_back();
        stack.emplace_back(level, std::string(title));
        if (first_heading.empty()) first_heading = std::string(title);
        p.segments.push_back({start, end, heading_path(stack), true});
    };

    for_each_line(text, body, [&](std::size_t at, std::string_view line) {
        const std::size_t end = at + line.size();
        if (fence) {
            block_end = end;
            if (auto f = fence_of(line); f && f->front() == fence->front() &&
                                         f->size() >= fence->size() &&
                                         is_blank(line.substr(line.find(*f) + f->size()))) {
                fence.reset();
                flush();
            }
            return;
        }
        if (auto f = fence_of(line)) {
            flush();
            fence = std::string(*f);
            block_start = at;
            block_end = end;
            return;
        }
        if (auto h = atx_heading(line)) {
            flush();
            open_section(h->first, h->second, at, end);
            return;
        }
        if (is_blank(line)) {
            flush();
            return;
        }
        if (block_start != kNone && block_lines == 1) {
            if (auto level = setext_underline(line)) {
                const std::size_t start = block_start;
                const std::string title(trim(text.substr(start, block_end - start)));
                block_start = kNone;
                block_lines = 0;
                open_section(*level, title, start, end);
                return;
            }
        }
        if (block_start == kNone) block_start = at;
        block_end = end;
        ++block_lines;
    });
    flush();
    if (p.title.empty()) p.title = first_heading;
    return p;
}

}  // namespace rk::inputs
