// Pseudo-relevance feedback: RM3 (Abdul-Jaleel et al., "UMass at TREC 2004"; the form of
// Anserini's RM3, Lin et al. 2016). The best chunks of a first BM25 pass are taken as
// relevant; the words they use most, weighted by each chunk's score, join the query for a
// second pass.
#pragma once

#include <vector>

#include "lexical/bm25.hpp"
#include "lexical/query.hpp"
#include "rk/search.hpp"
#include "store/sqlite.hpp"
#include "text/tokenizer.hpp"

namespace rk::lexical {

// The query's terms (each weighted 1) and up to `params.terms` index terms from the first
// `params.docs` of `top` (best first), as QueryTerm::token with weights such that the
// expansion counts (1 - params.original) of the whole. The relevance model of a term is
// the sum over feedback chunks of its share of the chunk's tokens times the chunk's share of
// their scores; terms in more than `params.max_df` of the chunks (stop words, which rk
// indexes) and terms of one character are left out. Call inside the read transaction of
// the first pass.
std::vector<QueryTerm> rm3_expand(store::Database& db, text::Tokenizer& tokenizer,
                                  const std::vector<QueryTerm>& terms,
                                  const std::vector<ScoredChunk>& top, const Rm3Params& params);

}  // namespace rk::lexical
