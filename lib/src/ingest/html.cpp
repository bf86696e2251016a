// HTML documents: the text a browser shows, parsed by gumbo (Debian's libgumbo), with the
// structure the chunker needs.
#include <fmt/format.h>
#include <gumbo.h>

#include <algorithm>
#include <cctype>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ingest/readers.hpp"
#include "rk/error.hpp"

namespace rk::inputs {

namespace {

// Elements whose content is not text for a reader.
bool left_out(GumboTag tag) {
    switch (tag) {
        case GUMBO_TAG_SCRIPT:
        case GUMBO_TAG_STYLE:
        case GUMBO_TAG_NOSCRIPT:
        case GUMBO_TAG_TEMPLATE:
        case GUMBO_TAG_NAV:
        case GUMBO_TAG_SVG:
        case GUMBO_TAG_MATH:
        case GUMBO_TAG_IFRAME:
        case GUMBO_TAG_OBJECT:
        case GUMBO_TAG_CANVAS:
        case GUMBO_TAG_AUDIO:
        case GUMBO_TAG_VIDEO:
        case GUMBO_TAG_SELECT:
        case GUMBO_TAG_HEAD:  // its title and metadata are read on their own
            return true;
        default:
            return false;
    }
}

// Elements that end the paragraph before them and start a new one after.
bool is_block(GumboTag tag) {
    switch (tag) {
        case GUMBO_TAG_ADDRESS:
        case GUMBO_TAG_ARTICLE:
        case GUMBO_TAG_ASIDE:
        case GUMBO_TAG_BLOCKQUOTE:
        case GUMBO_TAG_BODY:
        case GUMBO_TAG_CAPTION:
        case GUMBO_TAG_CENTER:
        case GUMBO_TAG_DD:
        case GUMBO_TAG_DETAILS:
        case GUMBO_TAG_DIR:
        case GUMBO_TAG_DIV:
        case GUMBO_TAG_DL:
        case GUMBO_TAG_DT:
        case GUMBO_TAG_FIELDSET:
        case GUMBO_TAG_FIGCAPTION:
        case GUMBO_TAG_FIGURE:
        case GUMBO_TAG_FOOTER:
        case GUMBO_TAG_FORM:
        case GUMBO_TAG_HEADER:
        case GUMBO_TAG_HGROUP:
        case GUMBO_TAG_HR:
        case GUMBO_TAG_HTML:
        case GUMBO_TAG_LEGEND:
        case GUMBO_TAG_LI:
        case GUMBO_TAG_LISTING:
        case GUMBO_TAG_MAIN:
        case GUMBO_TAG_MENU:
        case GUMBO_TAG_OL:
        case GUMBO_TAG_P:
        case GUMBO_TAG_PLAINTEXT:
        case GUMBO_TAG_PRE:
        case GUMBO_TAG_SECTION:
        case GUMBO_TAG_SUMMARY:
        case GUMBO_TAG_TABLE:
        case GUMBO_TAG_TBODY:
        case GUMBO_TAG_TFOOT:
        case GUMBO_TAG_THEAD:
        case GUMBO_TAG_TR:
        case GUMBO_TAG_UL:
        case GUMBO_TAG_XMP:
            return true;
        default:
            return false;
    }
}

int heading_level(GumboTag tag) {
    switch (tag) {
        case GUMBO_TAG_H1:
            return 1;
        case GUMBO_TAG_H2:
            return 2;
        case GUMBO_TAG_H3:
            return 3;
        case GUMBO_TAG_H4:
            return 4;
        case GUMBO_TAG_H5:
            return 5;
        case GUMBO_TAG_H6:
            return 6;
        default:
            return 0;
    }
}

std::string_view attribute(const GumboElement& e, const char* name) {
    const GumboAttribute* a = gumbo_get_attribute(&e.attributes, name);
    return a != nullptr && a->value != nullptr ? std::string_view(a->value) : std::string_view();
}

bool lower_equals(std::string_view a, std::string_view lower) {
    if (a.size() != lower.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const char c = (a[i] >= 'A' && a[i] <= 'Z') ? static_cast<char>(a[i] + 32) : a[i];
        if (c != lower[i]) return false;
    }
    return true;
}

// Marked as not shown: the hidden attribute, aria-hidden="true", or an inline display:none.
bool hidden(const GumboElement& e) {
    if (gumbo_get_attribute(&e.attributes, "hidden") != nullptr) return true;
    if (lower_equals(attribute(e, "aria-hidden"), "true")) return true;
    std::string style;
    for (const char c : attribute(e, "style")) {
        if (c != ' ' && c != '\t' && c != '\n') {
            style += (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
        }
    }
    return style.find("display:none") != std::string::npos;
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

// Appends `text` to `out` with runs of white space (and no-break spaces) as one space.
void append_collapsed(std::string& out, std::string_view text) {
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '\xC2' && i + 1 < text.size() && text[i + 1] == '\xA0') {
            ++i;
            c = ' ';
        }
        if (is_space(c)) {
            if (!out.empty() && out.back() != ' ' && out.back() != '\n') out += ' ';
        } else {
            out += c;
        }
    }
}

// The text of an element's subtree, white space collapsed (for titles and headings).
std::string inline_text(const GumboNode* root) {
    std::string out;
    std::vector<const GumboNode*> pending{root};
    while (!pending.empty()) {
        const GumboNode* n = pending.back();
        pending.pop_back();
        if (n->type == GUMBO_NODE_TEXT || n->type == GUMBO_NODE_CDATA ||
            n->type == GUMBO_NODE_WHITESPACE) {
            append_collapsed(out, n->v.text.text);
        } else if (n->type == GUMBO_NODE_ELEMENT) {
            const GumboElement& e = n->v.element;
            if (n != root && (left_out(e.tag) || hidden(e))) continue;
            if (e.tag == GUMBO_TAG_BR) append_collapsed(out, " ");
            for (unsigned i = e.children.length; i > 0; --i) {
                pending.push_back(static_cast<const GumboNode*>(e.children.data[i - 1]));
            }
        }
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

// Walks the tree once, writing the visible text and its segments.
class Extractor {
  public:
    Parsed run(const GumboOutput& doc) {
        read_head(*doc.root);
        // (node, index of the next child); an element is closed when its children are done.
        std::vector<std::pair<const GumboNode*, unsigned>> stack{{doc.root, 0}};
        open(*doc.root);
        while (!stack.empty()) {
            auto& [node, next] = stack.back();
            const GumboVector& children = node->v.element.children;
            if (next == children.length) {
                close(*node);
                stack.pop_back();
                continue;
            }
            const auto* child = static_cast<const GumboNode*>(children.data[next++]);
            if (child->type == GUMBO_NODE_TEXT || child->type == GUMBO_NODE_CDATA ||
                child->type == GUMBO_NODE_WHITESPACE) {
                add_text(child->v.text.text);
            } else if (child->type == GUMBO_NODE_ELEMENT && open(*child)) {
                stack.emplace_back(child, 0);
            }
        }
        flush();
        while (!out_.empty() && out_.back() == '\n') out_.pop_back();
        if (p_.title.empty()) p_.title = first_h1_;
        return std::move(p_);
    }

    std::string take_text() { return std::move(out_); }

  private:
    // Starts an element; false when its children are not to be walked.
    bool open(const GumboNode& n) {
        const GumboElement& e = n.v.element;
        if (left_out(e.tag) || hidden(e)) return false;
        if (const int level = heading_level(e.tag)) {
            heading(level, inline_text(&n));
            return false;
        }
        if (e.tag == GUMBO_TAG_BR) {
            para_ += '\n';
            return false;
        }
        if (e.tag == GUMBO_TAG_TD || e.tag == GUMBO_TAG_TH) add_text(" ");
        if (is_block(e.tag)) flush();
        if (e.tag == GUMBO_TAG_PRE || e.tag == GUMBO_TAG_LISTING || e.tag == GUMBO_TAG_XMP ||
            e.tag == GUMBO_TAG_PLAINTEXT || e.tag == GUMBO_TAG_TEXTAREA) {
            ++pre_;
        }
        return true;
    }

    void close(const GumboNode& n) {
        const GumboTag tag = n.v.element.tag;
        if (tag == GUMBO_TAG_PRE || tag == GUMBO_TAG_LISTING || tag == GUMBO_TAG_XMP ||
            tag == GUMBO_TAG_PLAINTEXT || tag == GUMBO_TAG_TEXTAREA) {
            --pre_;
        }
        if (is_block(tag)) flush();
    }

    void add_text(std::string_view text) {
        if (pre_ > 0) {
            para_pre_ = true;
            para_ += text;
        } else {
            append_collapsed(para_, text);
        }
    }

    // Ends the paragraph at hand: one segment, and a blank line after it.
    void flush() {
        std::string_view t = para_;
        // Preformatted text keeps its first line's indentation.
        const auto leading = para_pre_ ? t.find_first_not_of(" \t\r\n\f") : 0;
        const auto line = para_pre_ ? t.find_last_of('\n', leading) : std::string_view::npos;
        if (para_pre_ && leading != std::string_view::npos) {
            t.remove_prefix(line == std::string_view::npos ? 0 : line + 1);
        }
        while (!para_pre_ && !t.empty() && is_space(t.front())) t.remove_prefix(1);
        while (!t.empty() && is_space(t.back())) t.remove_suffix(1);
        if (!t.empty()) {
            const std::size_t start = out_.size();
            out_ += t;
            p_.segments.push_back({start, out_.size(), heading_path(headings_), false});
            out_ += "\n\n";
        }
        para_.clear();
        para_pre_ = false;
    }

    void heading(int level, const std::string& text) {
        flush();
        if (text.empty()) return;
        while (!headings_.empty() && headings_.back().first >= level) headings_.pop_back();
        headings_.emplace_back(level, text);
        if (level == 1 && first_h1_.empty()) first_h1_ = text;
        const std::size_t start = out_.size();
        out_ += text;
        p_.segments.push_back({start, out_.size(), heading_path(headings_), true});
        out_ += "\n\n";
    }

    // <title>, <meta name=description|author|keywords content=...> and <html lang>.
    void read_head(const GumboNode& root) {
        if (const auto lang = attribute(root.v.element, "lang"); !lang.empty()) {
            p_.meta.emplace_back("lang", std::string(lang));
        }
        std::vector<const GumboNode*> pending{&root};
        while (!pending.empty()) {
            const GumboNode* n = pending.back();
            pending.pop_back();
            if (n->type != GUMBO_NODE_ELEMENT) continue;
            const GumboElement& e = n->v.element;
            if (e.tag == GUMBO_TAG_TITLE) {
                if (p_.title.empty()) p_.title = inline_text(n);
                continue;
            }
            if (e.tag == GUMBO_TAG_META) {
                const auto name = attribute(e, "name");
                for (const char* key : {"description", "author", "keywords"}) {
                    if (lower_equals(name, key)) {
                        std::string value;
                        append_collapsed(value, attribute(e, "content"));
                        if (!value.empty() && value.back() == ' ') value.pop_back();
                        if (!value.empty()) p_.meta.emplace_back(key, std::move(value));
                    }
                }
                continue;
            }
            if (e.tag != GUMBO_TAG_HTML && e.tag != GUMBO_TAG_HEAD) continue;
            for (unsigned i = e.children.length; i > 0; --i) {
                pending.push_back(static_cast<const GumboNode*>(e.children.data[i - 1]));
            }
        }
    }

    Parsed p_;
    std::string out_, para_, first_h1_;
    std::vector<std::pair<int, std::string>> headings_;
    int pre_ = 0;            // depth of elements whose white space is kept
    bool para_pre_ = false;  // the paragraph at hand holds such text
};

// The HTML5 parsing algorithm looks through the open elements at most tags, so its time grows
// with the square of the nesting depth: 100,000 nested <div>s take gumbo half a minute.
// Browsers cap the depth; rk refuses such a page. This estimates the depth from start and end
// tags alone: elements that are void, whose end tag may be left out, or that close an open one
// of their kind (a, button, headings) are not counted, nor self-closed ones in SVG and MathML.
constexpr std::size_t kMaxDepth = 4096;

bool not_nesting(std::string_view name) {
    static constexpr std::string_view kNames[] = {
        "area",     "base",    "br",       "col", "embed", "hr",     "img",   "input", "link",
        "meta",     "source",  "track",    "wbr", "param", "keygen", "p",     "li",    "dt",
        "dd",       "option",  "optgroup", "tr",  "td",    "th",     "thead", "tbody", "tfoot",
        "colgroup", "caption", "rt",       "rp",  "html",  "head",   "body",  "a",     "nobr",
        "button",   "form",    "h1",       "h2",  "h3",    "h4",     "h5",    "h6"};
    return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

bool raw_text(std::string_view name) {
    return name == "script" || name == "style" || name == "textarea" || name == "title" ||
           name == "xmp" || name == "iframe" || name == "noembed" || name == "noframes";
}

// The byte offset at which the estimated depth first passes kMaxDepth, if it does.
std::optional<std::size_t> too_deep(std::string_view t) {
    std::size_t depth = 0;
    std::size_t foreign = 0;  // open svg and math elements, where "/>" closes an element
    std::size_t i = 0;
    auto lower_name = [&](std::size_t from) {
        std::string name;
        while (from < t.size() && (std::isalnum(static_cast<unsigned char>(t[from])) != 0 ||
                                   t[from] == '-' || t[from] == ':')) {
            name += static_cast<char>(std::tolower(static_cast<unsigned char>(t[from++])));
        }
        return name;
    };
    while ((i = t.find('<', i)) != std::string_view::npos) {
        const std::size_t at = i++;
        if (i >= t.size()) break;
        if (t.substr(i).starts_with("!--")) {
            const auto end = t.find("-->", i + 3);
            i = end == std::string_view::npos ? t.size() : end + 3;
            continue;
        }
        if (t[i] == '/') {
            const std::string name = lower_name(i + 1);
            if ((name == "svg" || name == "math") && foreign > 0) --foreign;
            if (!name.empty() && !not_nesting(name) && depth > 0) --depth;
            continue;
        }
        const std::string name = lower_name(i);
        if (name.empty()) continue;
        // The end of the tag, past quoted attribute values.
        char quote = 0;
        std::size_t j = i + name.size();
        for (; j < t.size() && (quote != 0 || t[j] != '>'); ++j) {
            if (quote != 0 && t[j] == quote) {
                quote = 0;
            } else if (quote == 0 && (t[j] == '"' || t[j] == '\'')) {
                quote = t[j];
            }
        }
        if (j >= t.size()) break;
        i = j + 1;
        if ((foreign > 0 && t[j - 1] == '/') || not_nesting(name)) continue;
        if (name == "svg" || name == "math") ++foreign;
        if (raw_text(name)) {
            // Up to its end tag, whatever it holds.
            const std::string close = "</" + name;
            std::size_t k = i;
            for (; k + close.size() <= t.size(); ++k) {
                if (t[k] == '<' && lower_name(k + 2) == name && t[k + 1] == '/') break;
            }
            i = k;
            continue;
        }
        if (++depth > kMaxDepth) return at;
    }
    return std::nullopt;
}

}  // namespace

Parsed read_html(std::string& text) {
    if (const auto at = too_deep(text)) {
        throw InputError(fmt::format(
            "HTML elements nested more than {} deep (at byte {}): not read", kMaxDepth, *at));
    }
    // Parse errors are not recorded: each holds a copy of the open elements, which makes a
    // deeply nested page quadratic in time and memory.
    static const GumboOptions options = [] {
        GumboOptions o = kGumboDefaultOptions;
        o.max_errors = 0;
        return o;
    }();
    const std::unique_ptr<GumboOutput, void (*)(GumboOutput*)> doc(
        gumbo_parse_with_options(&options, text.data(), text.size()),
        [](GumboOutput* d) { gumbo_destroy_output(&options, d); });
    if (!doc || doc->root == nullptr) throw InputError("cannot parse this HTML");
    Extractor x;
    Parsed p = x.run(*doc);
    text = x.take_text();
    return p;
}

}  // namespace rk::inputs
