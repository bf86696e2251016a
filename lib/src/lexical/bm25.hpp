// BM25 over rk's postings: term-at-a-time accumulation into an array indexed by chunk id,
// reading only the query terms' postings. Phrases and prefixes take their counts from FTS5.
#pragma once

#include <cstdint>
#include <vector>

#include "lexical/query.hpp"
#include "rk/search.hpp"
#include "store/sqlite.hpp"
#include "text/tokenizer.hpp"

namespace rk::lexical {

struct ScoredChunk {
    std::int64_t chunk = 0;
    double score = 0;
};

// Every chunk holding at least one of the terms that are not excluded, with its score, in no
// particular order. Call inside a read transaction, so that all reads see one state.
std::vector<ScoredChunk> bm25(store::Database& db, text::Tokenizer& tokenizer,
                              const std::vector<QueryTerm>& terms, const Bm25Params& params);

}  // namespace rk::lexical
