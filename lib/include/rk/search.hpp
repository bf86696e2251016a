// Answering one query: lexical (BM25) candidates, grouped by document, with snippets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rk/index.hpp"
#include "rk/json.hpp"

namespace rk {

// BM25's parameters: term-frequency saturation k1, length normalisation b, and how much a
// match in each field counts. The defaults have the best mean nDCG@10 over the four shared
// benchmark datasets among the settings that rank at or above both Xapian's BM25 and plain
// FTS5's bm25() on each of them (bench/README.md, "Choosing BM25's defaults").
struct Bm25Params {
    double k1 = 1.2;
    double b = 0.7;
    double title = 2.0, heading = 1.5, body = 1.0;
};

// Parses "k1=1.2,b=0.7,title=2,heading=1.5,body=1" (any subset) over `base`; throws
// UsageError naming the bad part.
Bm25Params parse_bm25_params(std::string_view spec, Bm25Params base = {});

// Which signals rank the results: rk's BM25 alone, the embedder's vectors alone, or both
// fused (the default).
enum class SearchMode { hybrid, bm25, vector };

// "hybrid", "bm25" or "vector"; throws UsageError otherwise.
SearchMode parse_search_mode(std::string_view name);
std::string_view to_string(SearchMode mode);

// How hybrid mode merges the two ranked lists (each of up to 100 units, best first).
// Min-max fusion adds weight * (score - worst) / (best - worst) per list, where worst is the
// list's last score, or one mean gap below it for a BM25 list that holds every match (a convex
// combination of min-max normalised scores; Bruch et al., "An Analysis of Fusion Functions
// for Hybrid Retrieval", ACM TOIS 2023, found such combinations ahead of RRF); reciprocal rank
// fusion adds weight / (k + rank) (Cormack et al., SIGIR 2009); weighted score fusion adds
// weight * score / best score.
struct Fusion {
    enum class Method { minmax, rrf, weighted };
    Method method = Method::minmax;
    // RRF's constant: 80 had the best mean nDCG@10 over the four shared datasets, on a
    // plateau from 60 to 120 (bench/README.md).
    double k = 80;
    // Each list's weight; unset, the method's own (bm25_weight(), vector_weight()): with
    // min-max the builtin embedder's vectors count 0.4 of BM25, with RRF and weighted fusion
    // BM25 counts twice, each the best mean nDCG@10 of its method over the four shared
    // datasets (bench/README.md).
    std::optional<double> bm25, vector;

    [[nodiscard]] double bm25_weight() const {
        return bm25.value_or(method == Method::minmax ? 1.0 : 2.0);
    }
    [[nodiscard]] double vector_weight() const {
        return vector.value_or(method == Method::minmax ? 0.4 : 1.0);
    }
};

// Parses "minmax", "rrf", "weighted", "k=80", "bm25=1", "vector=0.4" (comma-separated, any
// subset) over `base`; throws UsageError naming the bad part.
Fusion parse_fusion(std::string_view spec, Fusion base = {});

// The longest query text rk's front ends take (rk query, rk mcp, rk serve), in bytes: search
// costs time linear in the text, and longer input is more likely a mistake than a question.
inline constexpr std::size_t kMaxQueryBytes = 4096;

// Throws UsageError, at `where` when given, if `text` is longer than kMaxQueryBytes.
void check_query_length(std::string_view text, const std::string& where = {});

// How wide the vector graph is searched when a query does not say (Query::ef).
inline constexpr int kDefaultEf = 128;

// Pseudo-relevance feedback with RM3: the first `docs` chunks of a BM25 pass give `terms`
// more words to the query, which count `1 - original` of it in a second pass (Anserini's
// defaults: 10, 10, 0.5). `max_df`: words in a larger share of the chunks are not taken.
struct Rm3Params {
    int docs = 10;
    int terms = 10;
    double original = 0.5;
    double max_df = 0.1;
};
// Parses "docs=10,terms=10,original=0.5,max_df=0.1" (any subset) over `base`; throws
// UsageError naming the bad part.
Rm3Params parse_rm3_params(std::string_view spec, Rm3Params base = {});

struct Query {
    std::string text;  // words, "quoted phrases", -excluded, prefix*; the rest is literal
    int k = 10;
    bool chunks = false;   // one hit per chunk instead of per document
    bool snippets = true;  // leave them out when only ids and scores are wanted
    std::optional<std::string> collection;
    std::vector<std::pair<std::string, std::string>> where;  // metadata key = value
    std::optional<std::string> path_glob;                    // over the source path or id
    Bm25Params bm25;
    // Unset: the index's default, hybrid when it has vectors, else bm25.
    std::optional<SearchMode> mode;
    Fusion fusion;
    // Set: BM25 runs twice, the second time with the query expanded by RM3 (in every mode
    // that uses BM25).
    std::optional<Rm3Params> rm3;
    int ef = 0;  // HNSW search breadth; 0 takes kDefaultEf
    // How the vector signal searches: exact below a few thousand candidate vectors and the
    // HNSW graph above (automatic), or always one way (to measure the graph's recall).
    enum class VectorSearch { automatic, exact, graph };
    VectorSearch vector_search = VectorSearch::automatic;
    // Set: a reranking service ("URL?model=NAME[&key_env=VAR][&timeout=S][&retries=N]", URL
    // the full endpoint, e.g. http://host/v1/rerank) reorders the first `rerank_depth` fused
    // hits (1 to 1000); later hits follow them in their fused order. When it fails, the fused
    // order stands and SearchStats::warnings says why.
    std::optional<std::string> rerank;
    int rerank_depth = 50;
};

// One signal's view of a hit: its 1-based rank in that signal's list (0 when the signal did
// not retrieve it) and its score there.
struct Signal {
    int rank = 0;
    double score = 0;
};

struct Hit {
    std::string id, title, source, collection, heading;
    std::int64_t chunk = 0;  // the best (or the) chunk's position in its document
    double score = 0;        // higher is better
    std::string snippet;
    std::vector<std::pair<std::size_t, std::size_t>> highlights;  // byte ranges in snippet
    Signal bm25, vector;  // what each signal said (--explain)
    // The reranking service's score, for hits it reordered; `score` is then this score too
    // (hits past the rerank depth keep their fused score).
    std::optional<double> rerank;
};

// User text as FTS5 expressions: every term quoted, so no FTS5 syntax passes through.
struct FtsQuery {
    std::string match;    // the ranked terms, phrases and prefixes, OR-ed
    std::string exclude;  // the -excluded ones, OR-ed; empty if none
};

// Returns nullopt when the text holds nothing to search for.
std::optional<FtsQuery> fts_query(std::string_view text);

// The mode `query` runs in on `index`: its own, or the index's default. Throws UsageError
// when it asks for vectors of an index that has none (embedder "none").
SearchMode effective_mode(const Index& index, const Query& query);

// What one search did, to show that its cost is bounded whatever the filters leave.
struct SearchStats {
    int bm25_rounds = 0;            // passes over the postings for the BM25 top chunks
    int graph_searches = 0;         // searches of the vector graph (at most 2)
    std::int64_t codes_scored = 0;  // chunks' codes compared with the query
    std::int64_t rescored = 0;      // chunks scored exactly from their text
    // What went wrong without failing the search (a reranker that did not answer), one line
    // each, for the front end to show.
    std::vector<std::string> warnings;
};

// Runs the query against an open index, and says what it did in `stats` when given. Throws
// UsageError as effective_mode() does.
std::vector<Hit> search(const Index& index, const Query& query, SearchStats* stats = nullptr);

// "auto", "exact" or "hnsw"; throws UsageError otherwise.
Query::VectorSearch parse_vector_search(std::string_view name);

// Writes a hit's fields (rank, id, score, title, source, collection, chunk, heading, snippet,
// highlights, the rerank score when reranked, and with `explain` each signal's rank and score)
// into an open JSON object; the id and source as write_id() in rk/ids.hpp writes them.
void write_hit(JsonWriter& w, const Hit& hit, int rank, bool explain = false);

}  // namespace rk
