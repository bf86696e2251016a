// man(7) and mdoc(7) pages, with the tbl(1) tables they hold: the text a reader of the page
// sees, in paragraphs under its sections, without the layout.
#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <unordered_map>

#include "ingest/readers.hpp"
#include "ingest/roff_mdoc.hpp"
#include "ingest/roff_text.hpp"
#include "text/utf8.hpp"

namespace rk::inputs {

namespace {

constexpr int kMaxNesting = 16;  // conditions inside conditions, on one line

bool is_blank(char c) {
    return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
    const auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) return {};
    return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// The balance of \{ and \} in a line: how many conditional blocks it opens.
int brace_balance(std::string_view s) {
    int n = 0;
    for (std::size_t i = 0; i + 1 < s.size(); ++i) {
        if (s[i] != '\\') continue;
        if (s[i + 1] == '{') ++n;
        if (s[i + 1] == '}') --n;
        ++i;
    }
    return n;
}

class Page {
  public:
    explicit Page(std::size_t bytes) : roff_(bytes) {}

    Parsed read(std::string& text) {
        std::string joined;
        std::size_t pos = 0;
        while (pos < text.size()) {
            std::size_t nl = text.find('\n', pos);
            if (nl == std::string::npos) nl = text.size();
            std::string_view l(text.data() + pos, nl - pos);
            pos = nl + 1;
            if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
            // A line ending in an escaped newline goes on on the next one.
            std::size_t backslashes = 0;
            while (backslashes < l.size() && l[l.size() - 1 - backslashes] == '\\') ++backslashes;
            if (backslashes % 2 == 1) {
                joined += l.substr(0, l.size() - 1);
                continue;
            }
            if (!joined.empty()) {
                joined += l;
                line(joined, 0);
                joined.clear();
            } else {
                line(l, 0);
            }
        }
        if (!joined.empty()) line(joined, 0);
        flush();
        while (!out_.empty() && out_.back() == '\n') out_.pop_back();
        p_.title = name_line_.empty() ? page_title_ : name_line_;
        if (!section_.empty()) p_.meta.emplace_back("section", section_);
        text = std::move(out_);
        return std::move(p_);
    }

  private:
    enum class Table { none, options, format, data, block };

    void line(std::string_view l, int depth) {
        if (skip_until_) {
            if (!l.empty() && (l[0] == '.' || l[0] == '\'')) {
                std::string_view rest = trim(l.substr(1));
                rest = rest.substr(0, std::min(rest.find_first_of(" \t"), rest.size()));
                if (rest == *skip_until_) skip_until_.reset();
            }
            return;
        }
        if (skip_blocks_ > 0) {
            skip_blocks_ += brace_balance(l);
            return;
        }
        const bool control = !l.empty() && (l[0] == '.' || l[0] == '\'');
        if (table_ != Table::none) {
            table_line(l, control, depth);
            return;
        }
        if (control) {
            request(l.substr(1), depth);
        } else {
            text_line(l);
        }
    }

    void request(std::string_view s, int depth) {
        while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
        std::size_t end = 0;
        while (end < s.size() && !is_blank(s[end]) && s[end] != '\\') ++end;
        const std::string_view name = s.substr(0, end);
        std::string_view rest = s.substr(end);
        while (!rest.empty() && is_blank(rest.front())) rest.remove_prefix(1);
        if (name.empty()) return;  // ".", a comment, or the end of a block

        if (name == "if" || name == "ie" || name == "el") {
            bool holds = !last_ie_;
            if (name != "el") holds = roff_.condition(rest);
            if (name == "ie") last_ie_ = holds;
            branch(holds, rest, depth);
            return;
        }
        const auto args = [&] { return roff::split_args(rest); };
        if (name == "de" || name == "de1" || name == "am" || name == "am1" || name == "dei" ||
            name == "ami" || name == "ig") {
            const auto a = args();
            const std::size_t end_at = name == "ig" ? 0 : 1;
            skip_until_ = a.size() > end_at ? a[end_at] : ".";
            return;
        }
        if (name == "EQ" || name == "PS" || name == "[") {
            skip_until_ = name == "EQ" ? "EN" : name == "PS" ? "PE" : "]";
            return;
        }
        if (name == "ds" || name == "ds1" || name == "as" || name == "as1") {
            std::size_t n = 0;
            while (n < rest.size() && !is_blank(rest[n])) ++n;
            roff_.define_string(std::string(rest.substr(0, n)), rest.substr(n),
                                name.starts_with("as"));
            return;
        }
        if (name == "nr") {
            std::size_t n = 0;
            while (n < rest.size() && !is_blank(rest[n])) ++n;
            roff_.set_register(std::string(rest.substr(0, n)), rest.substr(n));
            return;
        }
        if (name == "tr") {
            translations(rest);
            return;
        }
        if (name == "TH" || name == "Dt") {
            const auto a = args();
            if (!a.empty()) page_title_ = roff_.render(a[0]);
            if (a.size() > 1) {
                section_ = roff_.render(a[1]);
                page_title_ += "(" + section_ + ")";
            }
            return;
        }
        if (name == "SH" || name == "SS" || name == "Sh" || name == "Ss") {
            const int level = name == "SH" || name == "Sh" ? 1 : 2;
            const auto a = args();
            if (a.empty()) {
                flush();
                heading_pending_ = level;
            } else {
                const bool mdoc = name == "Sh" || name == "Ss";
                heading(level, mdoc ? roff::mdoc_words(roff_, mdoc_name_, name, rest, true)
                                    : joined(a, " "));
            }
            return;
        }
        if (name == "TS") {
            flush();
            table_ = Table::options;
            tab_.assign(1, '\t');
            return;
        }
        if (man_request(name, rest)) return;
        if (mdoc_request(name, rest)) return;
        if (roff::is_mdoc_macro(name)) emit(roff::mdoc_words(roff_, mdoc_name_, name, rest, false));
        // Any other request, and the page's own macros, print nothing that is text.
    }

    // The man(7) macros and the requests that shape text; false for any other name.
    bool man_request(std::string_view name, std::string_view rest) {
        static constexpr std::array<std::string_view, 14> kBreaks = {
            "PP", "P", "LP", "sp", "Sp", "HP", "RE", "bp", "YS", "SY", "PD", "ne", "Pp", "Lp"};
        if (name == "br" || name == "ti" || name == "in") {
            line_break();
            return true;
        }
        if (std::find(kBreaks.begin(), kBreaks.end(), name) != kBreaks.end()) {
            flush();
            if (name == "SY") emit(roff_.render(rest));
            return true;
        }
        if (name == "TP" || name == "TQ") {
            if (name == "TP") flush();
            if (name == "TQ") line_break();
            tag_pending_ = true;
            return true;
        }
        if (name == "IP") {
            flush();
            const auto a = roff::split_args(rest);
            if (!a.empty()) {
                const std::string tag = roff_.render(a[0]);
                emit(tag);
                // A bullet or number stays on its item's line; a longer tag has its own.
                if (tag.size() > 4) line_break();
            }
            return true;
        }
        if (name == "nf" || name == "EX" || name == "Vb" || name == "fi" || name == "EE" ||
            name == "Ve") {
            flush();
            fill_ = name == "fi" || name == "EE" || name == "Ve";
            return true;
        }
        if (name == "B" || name == "I" || name == "SM" || name == "SB" || name == "OP") {
            const std::string words = joined(roff::split_args(rest), " ");
            emit(name == "OP" ? "[" + words + "]" : words);
            if (!fill_) line_break();
            return true;
        }
        if (name == "BI" || name == "BR" || name == "IB" || name == "IR" || name == "RB" ||
            name == "RI") {
            emit(joined(roff::split_args(rest), ""));
            if (!fill_) line_break();
            return true;
        }
        if (name == "UR" || name == "MT") {
            const auto a = roff::split_args(rest);
            link_ = a.empty() ? "" : roff_.render(a[0]);
            link_at_ = para_.size();
            return true;
        }
        if (name == "UE" || name == "ME") {
            if (!link_.empty()) {
                if (para_.size() == link_at_) {
                    emit(link_);
                } else {
                    emit("<" + link_ + ">");
                }
            }
            para_ += roff_.render(joined(roff::split_args(rest), ""));
            link_.clear();
            return true;
        }
        return false;
    }

    // mdoc(7)'s macros that are not callable; false for any other name.
    bool mdoc_request(std::string_view name, std::string_view rest) {
        if (name == "Bl" || name == "El" || name == "Rs" || name == "Re") {
            flush();
            return true;
        }
        if (name == "Bd" || name == "Ed") {
            flush();
            fill_ = name == "Ed" || (rest.find("-literal") == std::string_view::npos &&
                                     rest.find("-unfilled") == std::string_view::npos);
            return true;
        }
        if (name == "It") {
            flush();
            const std::string tag = roff::mdoc_words(roff_, mdoc_name_, name, rest, true);
            if (!tag.empty()) {
                emit(tag);
                line_break();
            }
            return true;
        }
        if (name == "D1" || name == "Dl" || name == "Nd" || name == "Ft" || name == "Fd") {
            if (name == "D1" || name == "Dl") flush();
            if (name == "Ft" || name == "Fd") line_break();
            const std::string words = roff::mdoc_words(roff_, mdoc_name_, name, rest, true);
            emit(name == "Nd" ? "- " + words : words);
            if (name == "D1" || name == "Dl") flush();
            return true;
        }
        if (name.size() == 2 && name[0] == '%') {  // a reference's parts
            emit(roff::mdoc_words(roff_, mdoc_name_, name, rest, true));
            return true;
        }
        return name == "Dd" || name == "Os" || name == "Ex" || name == "Rv" || name == "Bf" ||
               name == "Ef" || name == "Bk" || name == "Ek" || name == "Sm" || name == "Db";
    }

    // A .if/.ie/.el's body: run when `holds`, else skipped with the block it opens.
    void branch(bool holds, std::string_view rest, int depth) {
        const bool block = rest.starts_with("\\{");
        if (block) rest.remove_prefix(2);
        if (!holds) {
            if (block) skip_blocks_ = 1 + brace_balance(rest);
            return;
        }
        while (!rest.empty() && is_blank(rest.front())) rest.remove_prefix(1);
        if (!rest.empty() && depth < kMaxNesting) line(rest, depth + 1);
    }

    void text_line(std::string_view l) {
        if (trim(l).empty()) {
            flush();
            return;
        }
        std::string r;
        const bool continues = roff_.render(l, r);
        // A line that starts with a blank starts a new line of output.
        if (fill_ && is_blank(l.front())) line_break();
        emit(r);
        join_ = continues;
        if (!fill_ && !continues) line_break();
    }

    // Appends text to the paragraph at hand (or makes it the pending heading).
    void emit(std::string_view text) {
        std::string t;
        if (fill_) {
            for (const char c : text) {
                const bool blank = is_blank(c) || c == '\n';
                if (blank && (t.empty() || t.back() == ' ')) continue;
                t += blank ? ' ' : c;
            }
            while (!t.empty() && t.back() == ' ') t.pop_back();
        } else {
            t.assign(text);
            std::replace(t.begin(), t.end(), '\t', ' ');
        }
        if (t.empty()) return;
        if (heading_pending_ != 0) {
            const int level = heading_pending_;
            heading_pending_ = 0;
            heading(level, t);
            return;
        }
        if (!para_.empty() && !join_ && para_.back() != '\n' && para_.back() != ' ') para_ += ' ';
        para_ += t;
        join_ = false;
        if (tag_pending_) {
            tag_pending_ = false;
            line_break();
        }
    }

    void line_break() {
        if (!para_.empty() && para_.back() != '\n') para_ += '\n';
    }

    // Ends the paragraph at hand: one segment, and a blank line after it.
    void flush() {
        translate(para_);
        const std::string_view t = trim(para_);
        if (!t.empty()) {
            if (in_name_ && name_line_.empty()) {
                for (const char c : t) name_line_ += c == '\n' ? ' ' : c;
            }
            const std::size_t start = out_.size();
            out_ += t;
            p_.segments.push_back({start, out_.size(), heading_path(headings_), false});
            out_ += "\n\n";
        }
        para_.clear();
        join_ = false;
        tag_pending_ = false;
    }

    void heading(int level, std::string text) {
        flush();
        translate(text);
        text = std::string(trim(text));
        if (text.empty()) return;
        while (!headings_.empty() && headings_.back().first >= level) headings_.pop_back();
        headings_.emplace_back(level, text);
        std::string upper = text;
        for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        if (level == 1) in_name_ = upper == "NAME";
        const std::size_t start = out_.size();
        out_ += text;
        p_.segments.push_back({start, out_.size(), heading_path(headings_), true});
        out_ += "\n\n";
    }

    // One line inside .TS/.TE: the options and format lines are skipped; each row of data
    // becomes a line of its cells, and T{ ... T} blocks are text.
    void table_line(std::string_view l, bool control, int depth) {
        const std::string_view t = trim(l);
        if (control) {
            const std::string_view name = trim(l.substr(1));
            if (name.starts_with("TE")) {
                flush();
                table_ = Table::none;
            } else if (name.starts_with("T&")) {
                table_ = Table::format;
            } else if (table_ == Table::block) {
                request(l.substr(1), depth);
            }
            return;
        }
        switch (table_) {
            case Table::options:
                table_ = Table::format;
                if (t.ends_with(';')) {
                    // "tab(@)", also written "tab (@)".
                    if (const auto at = t.find("tab"); at != std::string_view::npos) {
                        const auto open = t.find_first_not_of(' ', at + 3);
                        const auto close = t.find(')', at + 3);
                        if (open != std::string_view::npos && t[open] == '(' &&
                            close != std::string_view::npos && close > open + 1) {
                            tab_ = std::string(t.substr(open + 1, close - open - 1));
                        }
                    }
                    return;
                }
                [[fallthrough]];
            case Table::format:
                if (t.ends_with('.')) table_ = Table::data;
                return;
            case Table::block:
                if (l.starts_with("T}")) {
                    table_ = Table::data;
                    table_row(l.substr(2));
                } else {
                    text_line(l);
                }
                return;
            default:
                if (t == "_" || t == "=") return;
                table_row(l);
                return;
        }
    }

    void table_row(std::string_view l) {
        std::string row;
        std::size_t pos = 0;
        while (pos <= l.size()) {
            std::size_t end = l.find(tab_, pos);
            if (end == std::string_view::npos) end = l.size();
            const std::string_view cell = l.substr(pos, end - pos);
            pos = end + tab_.size();
            if (trim(cell) == "T{") {
                table_ = Table::block;
                break;
            }
            const std::string text(trim(roff_.render(cell)));
            if (text.empty() || text == "_" || text == "=") continue;
            if (!row.empty()) row += "  ";
            row += text;
        }
        if (!row.empty()) {
            if (!para_.empty() && para_.back() != '\n') para_ += '\n';
            para_ += row;
            para_ += '\n';
        }
    }

    // .tr: pairs of characters, the first of each shown as the second (a later pair for the
    // same character wins, as in troff).
    void translations(std::string_view s) {
        std::vector<std::string> chars;
        for (std::size_t i = 0; i < s.size() && !is_blank(s[i]);) {
            std::size_t n = 1;
            if (s[i] == '\\' && i + 1 < s.size()) {
                n = s[i + 1] == '(' ? 4 : 2;
                if (s[i + 1] == '[') {
                    const std::size_t close = s.find(']', i);
                    n = close == std::string_view::npos ? s.size() - i : close - i + 1;
                }
            } else {
                while (i + n < s.size() && (static_cast<unsigned char>(s[i + n]) & 0xC0) == 0x80) {
                    ++n;
                }
            }
            n = std::clamp<std::size_t>(n, 1, s.size() - i);
            chars.push_back(roff_.render(s.substr(i, n)));
            i += n;
        }
        for (std::size_t i = 0; i + 1 < chars.size(); i += 2) {
            // Only one whole character is translated: anything else names no character.
            const std::string& from = chars[i];
            if (from.empty() || text::utf8_sequence_length(from, 0) != from.size()) continue;
            if (from == chars[i + 1]) {
                tr_.erase(from);
            } else {
                tr_[from] = chars[i + 1];
            }
        }
    }

    // Applies .tr in one pass over `s`, character by character.
    void translate(std::string& s) const {
        if (tr_.empty()) return;
        std::string out;
        out.reserve(s.size());
        for (std::size_t i = 0; i < s.size();) {
            const std::size_t n = std::max<std::size_t>(1, text::utf8_sequence_length(s, i));
            const auto it = tr_.find(s.substr(i, n));
            if (it == tr_.end()) {
                out.append(s, i, n);
            } else {
                out += it->second;
            }
            i += n;
        }
        s = std::move(out);
    }

    std::string joined(const std::vector<std::string>& args, std::string_view sep) {
        std::string out;
        for (const auto& a : args) {
            if (!out.empty()) out += sep;
            out += roff_.render(a);
        }
        return out;
    }

    roff::Interpreter roff_;
    Parsed p_;
    std::string out_, para_;
    std::vector<std::pair<int, std::string>> headings_;
    std::optional<std::string> skip_until_;  // .de, .ig: the line that ends what is skipped
    int skip_blocks_ = 0;                    // conditional blocks not taken, still open
    bool last_ie_ = true;
    bool fill_ = true;          // lines are filled into paragraphs, not kept as they are
    bool join_ = false;         // the last line ended in \c
    bool tag_pending_ = false;  // .TP: the next text is an item's tag, on a line of its own
    int heading_pending_ = 0;   // .SH alone: the next text is the heading
    bool in_name_ = false;      // under NAME, whose first paragraph is the page's title
    Table table_ = Table::none;
    std::string tab_ = "\t";
    std::unordered_map<std::string, std::string> tr_;  // .tr: character -> what shows
    std::string name_line_, page_title_, section_, mdoc_name_, link_;
    std::size_t link_at_ = 0;
};

}  // namespace

Parsed read_roff(std::string& text) {
    Page page(text.size());
    return page.read(text);
}

bool looks_like_roff(std::string_view head, bool named_as_page) {
    // Up to the first text line: comments and requests, among them .TH or .Dd (a page);
    // or, for a name that says man page, any request first.
    std::size_t pos = 0;
    for (int lines = 0; lines < 400 && pos < head.size(); ++lines) {
        std::size_t nl = head.find('\n', pos);
        if (nl == std::string_view::npos) nl = head.size();
        const std::string_view l = trim(head.substr(pos, nl - pos));
        pos = nl + 1;
        if (l.empty() || l.starts_with("\\\"")) continue;
        if (l[0] != '.' && l[0] != '\'') return false;
        if (named_as_page) return true;
        std::string_view name = trim(l.substr(1));
        name = name.substr(0, std::min(name.find_first_of(" \t"), name.size()));
        if (!name.starts_with('\\')) name = name.substr(0, std::min(name.find('\\'), name.size()));
        if (name == "TH" || name == "Dd") return true;
        // Without a telling name, only what page preambles hold may come first.
        static constexpr std::array<std::string_view, 21> kPreamble = {
            "",   ".",  "ad", "am", "as", "de", "de1", "ds", "ds1", "el", "hy",
            "ie", "if", "ig", "IX", "nh", "nr", "rm",  "rr", "so",  "tr"};
        if (!name.starts_with('\\') &&
            std::find(kPreamble.begin(), kPreamble.end(), name) == kPreamble.end()) {
            return false;
        }
    }
    return false;
}

}  // namespace rk::inputs
