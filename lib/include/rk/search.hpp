// Answering one query: lexical (BM25) candidates, grouped by document, with snippets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rk/index.hpp"

namespace rk {

// BM25's parameters: term-frequency saturation k1, length normalisation b, and how much a
// match in each field counts (the defaults were chosen on the benchmark datasets).
struct Bm25Params {
    double k1 = 1.8;
    double b = 0.75;
    double title = 2.0, heading = 1.5, body = 1.0;
};

// Parses "k1=1.8,b=0.75,title=2,heading=1.5,body=1" (any subset) over `base`; throws
// UsageError naming the bad part.
Bm25Params parse_bm25_params(std::string_view spec, Bm25Params base = {});

struct Query {
    std::string text;  // words, "quoted phrases", -excluded, prefix*; the rest is literal
    int k = 10;
    bool chunks = false;   // one hit per chunk instead of per document
    bool snippets = true;  // leave them out when only ids and scores are wanted
    std::optional<std::string> collection;
    std::vector<std::pair<std::string, std::string>> where;  // metadata key = value
    std::optional<std::string> path_glob;                    // over the source path or id
    Bm25Params bm25;
};

struct Hit {
    std::string id, title, source, collection, heading;
    std::int64_t chunk = 0;  // the best (or the) chunk's position in its document
    double score = 0;        // higher is better
    std::string snippet;
    std::vector<std::pair<std::size_t, std::size_t>> highlights;  // byte ranges in snippet
};

// User text as FTS5 expressions: every term quoted, so no FTS5 syntax passes through.
struct FtsQuery {
    std::string match;    // the ranked terms, phrases and prefixes, OR-ed
    std::string exclude;  // the -excluded ones, OR-ed; empty if none
};

// Returns nullopt when the text holds nothing to search for.
std::optional<FtsQuery> fts_query(std::string_view text);

// Runs the query against an open index.
std::vector<Hit> search(const Index& index, const Query& query);

}  // namespace rk
