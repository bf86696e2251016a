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
#include "util/gate.hpp"

namespace rk::lexical {

struct ScoredChunk {
    std::int64_t chunk = 0;
    double score = 0;
};

struct Bm25Top {
    std::vector<ScoredChunk> chunks;  // best first (ties: lower chunk id first)
    bool complete = false;            // every matching chunk is in `chunks`
    // The helper thread met a page it could not read (a damaged posting file) and the
    // calling thread scored the whole query again, alone.
    bool scored_again = false;
    std::size_t helper_windows = 0;  // windows of chunk ids the helper thread scored
};

// How bm25() shares out and cuts up its work. The defaults are the ones to use; tests change
// them to reach, with a small index, what a large one does.
struct Bm25Work {
    // A query whose lists hold this many entries or more is scored by two threads (when the
    // machine has two cores and every list is in memory or in a posting file).
    std::size_t split_from_entries = 65536;
    // Chunk ids are scored this many at a time (a multiple of 64): the cursors that need
    // reading are chosen anew for each window from their pages' bounds in it.
    std::int64_t window = 8192;
    // The calling thread starts only once the helper has taken its first window (Error with
    // a gate).
    bool helper_first = false;
    // The helper starts taking windows only once this opens, or once the calling thread has
    // no windows left (so that it never waits for the helper's start); null: at once. Hybrid
    // search gives it the end of the vector signal's thread, which holds the second core
    // meanwhile: two threads taking turns on a core finish the same work sooner than two
    // sharing it, since a helper switched out in the middle of a window holds up the caller,
    // which waits for it at the end. bm25() never opens the gate itself.
    util::Gate* helper_gate = nullptr;
};

// The `k` best chunks holding at least one of the terms that are not excluded (k = 0: all of
// them). Call inside a read transaction, so that all reads see one state. Postings are read
// from the segments' posting files in `files` where they can be (null: from rk.db only). Two
// threads share a long query's windows of chunk ids, each taking the next one nobody has
// taken; the result is the same as one thread's, to the last bit of each score. Throws
// IndexError naming the term and segment of a malformed posting list, Error for a bad `work`.
Bm25Top bm25(store::Database& db, text::Tokenizer& tokenizer, const std::vector<QueryTerm>& terms,
             const Bm25Params& params, std::size_t k, PostingFiles* files = nullptr,
             const Bm25Work& work = {});

}  // namespace rk::lexical
