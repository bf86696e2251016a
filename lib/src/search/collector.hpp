// Filters and grouping shared by the signals of a query: which candidate chunks pass the
// query's filters, and which unit of the result (a document, or a chunk with --chunks) each
// stands for.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "lexical/bm25.hpp"
#include "rk/search.hpp"
#include "store/sqlite.hpp"
#include "util/glob.hpp"

namespace rk {

// A unit of the result (a document, or a chunk with --chunks) as one signal ranked it.
struct Ranked {
    std::int64_t key = 0;    // document or chunk id
    std::int64_t chunk = 0;  // the chunk that stands for it
    double score = 0;
    Hit hit;  // fields but score, snippet and signals
};

// Applies a query's filters to candidate chunks and groups them into result units, reading
// on one connection (which must outlive it, as must the query).
class Collector {
  public:
    Collector(store::Database& db, const Query& q);

    [[nodiscard]] bool filtered() const {
        return q_.collection || !q_.where.empty() || glob_.has_value();
    }

    // Documents left out whatever their chunks score (those holding an excluded word).
    void exclude(std::unordered_set<std::int64_t> docs) { excluded_ = std::move(docs); }

    // The codes (their first `bytes` bytes) of the stored vectors of chunks passing the SQL
    // filters (collection, metadata; the glob is checked later), at most `limit` of them (-1:
    // all).
    std::vector<std::pair<std::int64_t, std::string>> allowed_vectors(std::int64_t limit,
                                                                      std::size_t bytes);

    // Whether a chunk passes every filter.
    bool passes(std::int64_t chunk);

    // Units from chunks ranked best first (sorted here, lazily: most queries need only the
    // head), until `depth` units are found.
    std::vector<Ranked> collect(std::vector<lexical::ScoredChunk>& ranked, std::size_t depth);

  private:
    void bind_filters(store::Statement& st) const;

    const Query& q_;
    store::Database& db_;
    store::Statement* lookup_ = nullptr;
    std::vector<std::string> where_paths_;
    std::optional<util::DocumentGlob> glob_;
    std::unordered_set<std::int64_t> excluded_;
};

}  // namespace rk
