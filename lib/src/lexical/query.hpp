// User query syntax: words, "quoted phrases", -excluded terms and prefix*. Everything else is
// literal text: FTS5's operators never reach it unquoted.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rk/search.hpp"

namespace rk::lexical {

struct QueryTerm {
    std::string text;  // valid UTF-8
    bool phrase = false, prefix = false, excluded = false;
    // An index term as it is (from feedback), not words to tokenize.
    bool token = false;
    double weight = 1;  // multiplies the term's BM25 score
};

// The terms of `text`, in order; invalid UTF-8 is repaired, control characters (NUL
// included) are spaces, terms without a letter or digit are dropped.
std::vector<QueryTerm> parse_query(std::string_view text);

// One term as an FTS5 string: quoted, with a trailing * for a prefix.
std::string fts_atom(const QueryTerm& term);

// Whether BM25 scores a term whose query tokens are `tokens` token by token (a word, or one
// the tokenizer splits, as Lucene's query parser takes it) rather than whole, through FTS5 (a
// quoted phrase of several tokens, a prefix).
bool scored_by_tokens(const QueryTerm& term, const std::vector<std::string>& tokens);
// For a term scored whole: what tells it asked twice, its tokens and its kind ("Failed
// requests" is "failed  requests" to FTS5).
std::string whole_term_key(const QueryTerm& term, const std::vector<std::string>& tokens);

// The terms as FTS5 expressions (see rk::fts_query), each distinct term once, the ranked ones
// up to the first `max_ranked`; nullopt when none is ranked.
std::optional<FtsQuery> fts_expressions(const std::vector<QueryTerm>& terms,
                                        std::size_t max_ranked = SIZE_MAX);

}  // namespace rk::lexical
