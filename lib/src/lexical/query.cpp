// User query syntax -> FTS5 MATCH expression. Users type words, "phrases", -exclusions and
// prefix*; FTS5's own operators (AND, OR, NOT, NEAR, ^, column:, parentheses) are never
// interpreted, because every term reaches FTS5 inside double quotes.
#include "lexical/query.hpp"

#include <string>
#include <unordered_set>
#include <vector>

#include "rk/search.hpp"
#include "text/utf8.hpp"

namespace rk {

namespace lexical {

namespace {

bool has_word_char(std::string_view s) {
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x80 || std::isalnum(u) != 0) return true;
    }
    return false;
}

std::string fts_string(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"') out += '"';  // FTS5 escapes a quote inside a string by doubling it
        out += c;
    }
    out += '"';
    return out;
}

}  // namespace

std::vector<QueryTerm> parse_query(std::string_view text) {
    std::string repaired(text);
    text::utf8_repair(repaired);
    // Control characters separate words for every tokenizer, and FTS5 reads its expression only
    // up to a NUL: one inside a quoted term left the string unterminated (an error for the
    // whole search; found by fuzzing). So they are spaces, also inside a phrase.
    for (char& c : repaired) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) c = ' ';
    }
    const std::string_view q = repaired;
    std::vector<QueryTerm> terms;
    std::size_t i = 0;
    auto space = [](char c) { return c == ' '; };
    while (i < q.size()) {
        while (i < q.size() && space(q[i])) ++i;
        if (i >= q.size()) break;
        QueryTerm t;
        if (q[i] == '-' && i + 1 < q.size() && !space(q[i + 1])) {
            t.excluded = true;
            ++i;
        }
        if (q[i] == '"') {
            const std::size_t close = q.find('"', i + 1);
            const std::size_t end = close == std::string_view::npos ? q.size() : close;
            t.text = std::string(q.substr(i + 1, end - i - 1));
            t.phrase = true;
            i = close == std::string_view::npos ? q.size() : close + 1;
        } else {
            std::size_t end = i;
            while (end < q.size() && !space(q[end])) ++end;
            std::string_view word = q.substr(i, end - i);
            if (word.size() > 1 && word.back() == '*') {
                t.prefix = true;
                word.remove_suffix(1);
            }
            t.text = std::string(word);
            i = end;
        }
        if (has_word_char(t.text)) terms.push_back(std::move(t));
    }
    return terms;
}

std::string fts_atom(const QueryTerm& term) {
    std::string atom = fts_string(term.text);
    if (term.prefix) atom += " *";
    return atom;
}

bool scored_by_tokens(const QueryTerm& term, const std::vector<std::string>& tokens) {
    return !term.prefix && (tokens.size() == 1 || !term.phrase);
}

std::string whole_term_key(const QueryTerm& term, const std::vector<std::string>& tokens) {
    std::string key = term.prefix ? "*" : "\"";
    for (const auto& t : tokens) key.append(t).push_back(' ');
    return key;
}

std::optional<FtsQuery> fts_expressions(const std::vector<QueryTerm>& terms,
                                        std::size_t max_ranked) {
    std::string positive, negative;
    std::size_t ranked = 0;
    // A term repeated adds nothing to an OR but work: FTS5's snippet() is quadratic in the
    // phrases of its expression.
    std::unordered_set<std::string> seen;
    for (const auto& t : terms) {
        std::string atom = fts_atom(t);
        if (!seen.insert((t.excluded ? "-" : "+") + atom).second) continue;
        if (!t.excluded && ranked++ >= max_ranked) continue;
        std::string& side = t.excluded ? negative : positive;
        if (!side.empty()) side += " OR ";
        side += atom;
    }
    if (positive.empty()) return std::nullopt;
    return FtsQuery{std::move(positive), std::move(negative)};
}

}  // namespace lexical

std::optional<FtsQuery> fts_query(std::string_view text) {
    return lexical::fts_expressions(lexical::parse_query(text));
}

}  // namespace rk
