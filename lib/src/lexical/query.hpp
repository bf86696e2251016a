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

// The terms as FTS5 expressions (see rk::fts_query), each distinct term once, the ranked ones
// up to the first `max_ranked`; nullopt when none is ranked.
std::optional<FtsQuery> fts_expressions(const std::vector<QueryTerm>& terms,
                                        std::size_t max_ranked = SIZE_MAX);

}  // namespace rk::lexical
