// BM25 over rk's postings: the top k chunks, found with MaxScore over blocks (Turtle and
// Flood 1995; the block-max refinement of Ding and Suel 2011, in the windowed form of Lucene's
// MaxScoreBulkScorer). Each query term's list in each segment is a cursor whose score is
// bounded, block by block, by the block's largest term counts and shortest chunk; within a
// window of chunk ids, the cursors whose bounds together cannot lift a chunk past the k-th
// best score so far are only consulted for chunks the others found. Phrases and prefixes
// take their counts from FTS5 and join as cursors held in memory.
#pragma once

#include <cstdint>
#include <vector>

#include "lexical/query.hpp"
#include "lexical/segment_file.hpp"
#include "rk/search.hpp"
#include "store/sqlite.hpp"
#include "text/tokenizer.hpp"

namespace rk::lexical {

struct ScoredChunk {
    std::int64_t chunk = 0;
    double score = 0;
};

struct Bm25Top {
    std::vector<ScoredChunk> chunks;  // best first (ties: lower chunk id first)
    bool complete = false;            // every matching chunk is in `chunks`
};

// The `k` best chunks holding at least one of the terms that are not excluded (k = 0: all of
// them). Call inside a read transaction, so that all reads see one state. Postings are read
// from the segments' posting files in `files` where they can be (null: from rk.db only).
// A query whose lists hold `split_from_entries` entries or more is scored by two threads,
// each over half of the chunk ids (when the machine has two cores and every list is in
// memory or in a posting file); the result is the same, to the last bit of each score. Throws
// IndexError naming the term and segment of a malformed posting list.
inline constexpr std::size_t kSplitEntries = 65536;
Bm25Top bm25(store::Database& db, text::Tokenizer& tokenizer, const std::vector<QueryTerm>& terms,
             const Bm25Params& params, std::size_t k, PostingFiles* files = nullptr,
             std::size_t split_from_entries = kSplitEntries);

}  // namespace rk::lexical
