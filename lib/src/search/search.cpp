// One query: BM25 and vector candidates over chunks, filters, the best chunk per document,
// fusion of the two ranked lists, snippets.
#include "rk/search.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "lexical/bm25.hpp"
#include "lexical/query.hpp"
#include "rk/error.hpp"
#include "store/index_impl.hpp"
#include "util/glob.hpp"
#include "vector/store.hpp"

namespace rk {

namespace {

using lexical::ScoredChunk;

// How deep each signal's list goes before fusion: ranks past this add little to RRF.
constexpr std::size_t kFusionDepth = 100;
// The most distinct words a snippet highlights.
constexpr std::size_t kSnippetTerms = 64;
// How many times BM25 asks for eight times more chunks when documents hold several of its
// best or filters turn them away, before it asks for all.
constexpr int kBm25Rounds = 2;
// HNSW search breadth by default; a search is at least twice as wide as the candidates it
// wants (the codes' graph is coarse: a narrower search misses good candidates).
constexpr std::size_t kDefaultEf = 128;
// Text sharing nothing with the query still shares some n-grams: such texts score under
// 0.06 on the shared datasets, while real matches score 0.25 and up. Below this cosine a
// text is no evidence, and a query for a word found nowhere finds nothing.
constexpr double kMinSimilarity = 0.1;
// Below this many candidate vectors a scan of their codes is as fast as the graph, and finds
// every candidate.
constexpr std::int64_t kExactLimit = 4096;
// How many of the candidates the codes rank best are scored exactly: the depth the caller
// needs (twice that in vector mode), and this many more (the codes' ranks are noisy; see
// bench/README.md).
constexpr std::size_t kRescoreExtra = 32;
// When filters leave too few of the graph's nearest, the second search asks for this many
// times more.
constexpr std::size_t kFilterRetry = 8;

// A unit of the result (a document, or a chunk with --chunks) as one signal ranked it.
struct Ranked {
    std::int64_t key = 0;    // document or chunk id
    std::int64_t chunk = 0;  // the chunk that stands for it
    double score = 0;
    Hit hit;  // fields but score, snippet and signals
};

// SQL for `n` --where conditions on d.meta, bound from parameter 3 on (path, value) pairs.
// Metadata values are compared as text: 2020, true and "2020" all match --where k=2020.
std::string metadata_conditions(std::size_t n) {
    std::string sql;
    for (std::size_t i = 0; i < n; ++i) {
        sql += fmt::format(
            " AND (CASE json_type(d.meta, ?{0}) WHEN 'true' THEN 'true' WHEN 'false' THEN "
            "'false' ELSE CAST(json_extract(d.meta, ?{0}) AS TEXT) END) = ?{1}",
            3 + 2 * i, 4 + 2 * i);
    }
    return sql;
}

// Applies the query's filters to candidate chunks and groups them into result units.
class Collector {
  public:
    Collector(store::Database& db, const Query& q) : q_(q), db_(db) {
        std::string sql =
            "SELECT c.doc, c.seq, c.heading, d.ext_id, d.title, d.source, d.collection "
            "FROM chunks c JOIN documents d ON d.id = c.doc "
            "WHERE c.id = ?1 AND (?2 IS NULL OR d.collection = ?2)";
        sql += metadata_conditions(q.where.size());
        lookup_ = &db.cached(sql);
        for (const auto& condition : q.where) {
            std::string path = "$.\"";
            for (const char c : condition.first) {
                if (c == '"') path += '\\';
                path += c;
            }
            path += '"';
            where_paths_.push_back(std::move(path));
        }
        if (q.path_glob) glob_.emplace(*q.path_glob);
    }

    [[nodiscard]] bool filtered() const {
        return q_.collection || !q_.where.empty() || glob_.has_value();
    }

    void exclude(std::unordered_set<std::int64_t> docs) { excluded_ = std::move(docs); }

    // The stored vectors of chunks passing the SQL filters (collection, metadata; the glob is
    // checked later), at most `limit` of them.
    std::vector<std::pair<std::int64_t, std::string>> allowed_vectors(std::int64_t limit) {
        std::string sql =
            "SELECT x.chunk, x.data FROM vectors x JOIN chunks c ON c.id = x.chunk "
            "JOIN documents d ON d.id = c.doc WHERE (?2 IS NULL OR d.collection = ?2)";
        sql += metadata_conditions(q_.where.size());
        sql += " LIMIT ?1";
        auto& st = db_.cached(sql);
        bind_filters(st);
        st.bind(1, limit);
        std::vector<std::pair<std::int64_t, std::string>> out;
        while (st.step()) out.emplace_back(st.int64(0), std::string(st.blob(1)));
        st.reset();
        return out;
    }

    // Whether a chunk passes every filter.
    bool passes(std::int64_t chunk) {
        auto& st = *lookup_;
        bind_filters(st);
        st.bind(1, chunk);
        bool ok = st.step();
        if (ok && glob_) ok = glob_->matches(st.text(3), st.text(5));
        st.reset();
        return ok;
    }

    // Units from chunks ranked best first (sorted here, lazily: most queries need only the
    // head), until `depth` units are found.
    std::vector<Ranked> collect(std::vector<ScoredChunk>& ranked, std::size_t depth) {
        auto better = [](const ScoredChunk& a, const ScoredChunk& b) {
            return a.score > b.score || (a.score == b.score && a.chunk < b.chunk);
        };
        std::size_t sorted = std::min(ranked.size(), std::size_t{64} + 4 * depth);
        std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(sorted),
                          ranked.end(), better);
        std::vector<Ranked> out;
        std::unordered_set<std::int64_t> seen;
        std::size_t i = 0;
        for (; i < ranked.size() && out.size() < depth; ++i) {
            if (i == sorted) {
                std::sort(ranked.begin() + static_cast<std::ptrdiff_t>(sorted), ranked.end(),
                          better);
                sorted = ranked.size();
            }
            auto& st = *lookup_;
            bind_filters(st);
            st.bind(1, ranked[i].chunk);
            if (!st.step()) {
                st.reset();
                continue;
            }
            const std::int64_t doc = st.int64(0);
            const std::int64_t key = q_.chunks ? ranked[i].chunk : doc;
            if (excluded_.contains(doc) || seen.contains(key)) {
                st.reset();
                continue;
            }
            Ranked r;
            r.hit.id = st.str(3);
            r.hit.source = st.str(5);
            if (glob_ && !glob_->matches(r.hit.id, r.hit.source)) {
                st.reset();
                continue;
            }
            r.key = key;
            r.chunk = ranked[i].chunk;
            r.score = ranked[i].score;
            r.hit.chunk = st.int64(1);
            r.hit.heading = st.str(2);
            r.hit.title = st.str(4);
            r.hit.collection = st.str(6);
            st.reset();
            seen.insert(key);
            out.push_back(std::move(r));
        }
        return out;
    }

  private:
    void bind_filters(store::Statement& st) const {
        if (q_.collection) {
            st.bind(2, *q_.collection);
        } else {
            st.bind_null(2);
        }
        for (std::size_t i = 0; i < q_.where.size(); ++i) {
            st.bind(static_cast<int>(3 + 2 * i), where_paths_[i]);
            st.bind(static_cast<int>(4 + 2 * i), q_.where[i].second);
        }
    }

    const Query& q_;
    store::Database& db_;
    store::Statement* lookup_ = nullptr;
    std::vector<std::string> where_paths_;
    std::optional<util::DocumentGlob> glob_;
    std::unordered_set<std::int64_t> excluded_;
};

// Scores candidate chunks exactly, from their text and stored bag length, and keeps those
// at or above the similarity floor.
std::vector<ScoredChunk> rescore(store::Database& db, const vector::QueryVector& query,
                                 const std::vector<std::int64_t>& chunks, std::size_t bits) {
    auto& st = db.cached(
        "SELECT v.title, v.heading, v.body, x.data FROM chunk_view v "
        "JOIN vectors x ON x.chunk = v.id WHERE v.id = ?1");
    std::vector<ScoredChunk> out;
    out.reserve(chunks.size());
    for (const auto chunk : chunks) {
        st.bind(1, chunk);
        if (st.step()) {
            const double cosine =
                query.exact.cosine(vector::embedding_text(st.text(0), st.text(1), st.text(2)),
                                   vector::stored_norm(st.blob(3), bits));
            if (cosine >= kMinSimilarity) out.push_back({chunk, cosine});
        }
        st.reset();
    }
    return out;
}

// The `n` best of scored candidates, best first.
std::vector<std::int64_t> best(std::vector<ScoredChunk>& scored, std::size_t n) {
    n = std::min(n, scored.size());
    std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(n), scored.end(),
                      [](const ScoredChunk& a, const ScoredChunk& b) {
                          return a.score > b.score || (a.score == b.score && a.chunk < b.chunk);
                      });
    std::vector<std::int64_t> out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = scored[i].chunk;
    return out;
}

// The vector signal's units. The chunks' codes find the candidates: all of them when a filter
// leaves few (or the index is small), else the graph's nearest; the best candidates are then
// scored exactly from their text. A search costs at most two graph searches, whatever the
// filters and the similarity floor leave.
std::vector<Ranked> vector_units(const Index& index, const Query& q, Collector& collector,
                                 std::size_t depth, bool fused, SearchStats& stats) {
    auto& impl = index.impl();
    auto& db = *impl.db;
    const auto query = vector::embed_query(db, impl.embedder(), q.text);
    if (query.exact.empty()) return {};
    const auto bits = static_cast<std::size_t>(impl.embedder().dimension());
    // Alone, the vector list is the answer, and its tail counts; fused, it is a second opinion
    // whose tail adds little (see kRescoreExtra).
    const std::size_t rescored = (fused ? depth : 2 * depth) + kRescoreExtra;
    using VS = Query::VectorSearch;
    if (q.vector_search == VS::exact ||
        (q.vector_search == VS::automatic &&
         (collector.filtered() || vector::read_state(db).count <= kExactLimit))) {
        const auto limit = q.vector_search == VS::exact ? -1 : kExactLimit + 1;
        const auto stored = collector.allowed_vectors(limit);
        if (q.vector_search == VS::exact || std::ssize(stored) <= kExactLimit) {
            std::vector<ScoredChunk> scored;
            scored.reserve(stored.size());
            for (const auto& [chunk, v] : stored) {
                scored.push_back(
                    {chunk, query.codes.score(reinterpret_cast<const unsigned char*>(v.data()))});
            }
            stats.codes_scored += std::ssize(scored);
            const auto head = best(scored, rescored);
            stats.rescored += std::ssize(head);
            auto chunks = rescore(db, query, head, bits);
            return collector.collect(chunks, depth);
        }
    }
    const std::size_t ef = q.ef > 0 ? static_cast<std::size_t>(q.ef) : kDefaultEf;
    for (int attempt = 0;; ++attempt) {
        const std::size_t want = attempt == 0 ? rescored : kFilterRetry * rescored;
        const VectorView* view = &impl.vectors();
        vector::Found found;
        try {
            found = view->search(query.codes, want, std::max(ef, 2 * want));
        } catch (const vector::GraphDamage& e) {
            impl.graph_damaged(e);
            view = &impl.vectors();
            found = view->search(query.codes, want, std::max(ef, 2 * want));
        }
        ++stats.graph_searches;
        stats.codes_scored += static_cast<std::int64_t>(found.scored + view->fresh.size());
        std::vector<ScoredChunk> scored;
        for (const auto& n : found.nearest) {
            if (!view->fresh.contains(n.label)) scored.push_back({n.label, n.score});
        }
        // Vectors stored since the graph was saved are compared one by one.
        for (const auto& [chunk, v] : view->fresh) {
            scored.push_back(
                {chunk, query.codes.score(reinterpret_cast<const unsigned char*>(v.data()))});
        }
        if (collector.filtered()) {
            std::erase_if(scored, [&](const ScoredChunk& c) { return !collector.passes(c.chunk); });
        }
        const auto head = best(scored, rescored);
        stats.rescored += std::ssize(head);
        auto chunks = rescore(db, query, head, bits);
        auto units = collector.collect(chunks, depth);
        // Only filters make a second search worth it: the graph gives its nearest first, so
        // candidates under the similarity floor mean there are no better ones.
        if (units.size() >= depth || !collector.filtered() || found.nearest.size() < want ||
            attempt > 0) {
            return units;
        }
    }
}

std::string fallback_snippet(store::Database& db, std::int64_t chunk) {
    auto& st = db.cached("SELECT substr(body, 1, 200) FROM chunk_view WHERE id = ?1");
    st.bind(1, chunk);
    std::string out = st.step() ? st.str(0) : std::string();
    st.reset();
    // Cut at the last space, not inside a word or a UTF-8 sequence.
    if (out.size() >= 200) {
        const auto space = out.find_last_of(' ');
        out = out.substr(0, space == std::string::npos ? 0 : space) + "…";
    }
    for (auto& c : out) {
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    }
    return out;
}

void split_highlights(Hit& hit, std::string_view marked) {
    hit.snippet.clear();
    std::size_t open = 0;
    for (const char c : marked) {
        if (c == '\x01') {
            open = hit.snippet.size();
        } else if (c == '\x02') {
            hit.highlights.emplace_back(open, hit.snippet.size());
        } else {
            hit.snippet += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
        }
    }
}

}  // namespace

SearchMode effective_mode(const Index& index, const Query& q) {
    const bool has_vectors = index.impl().has_vectors();
    if (!q.mode) return has_vectors ? SearchMode::hybrid : SearchMode::bm25;
    if (*q.mode != SearchMode::bm25 && !has_vectors) {
        throw UsageError(
            fmt::format("mode {} needs vectors, and this index has none (its "
                        "embedder is 'none'): use --mode bm25",
                        to_string(*q.mode)));
    }
    return *q.mode;
}

namespace {

std::vector<Hit> run_search(const Index& index, const Query& q, SearchStats& stats) {
    const SearchMode mode = effective_mode(index, q);
    const auto terms = lexical::parse_query(q.text);
    const auto fq = lexical::fts_expressions(terms);
    if (q.k <= 0) return {};
    const bool lexical = mode != SearchMode::vector && fq;
    const bool vectors = mode != SearchMode::bm25;
    if (!lexical && !vectors) return {};
    auto& db = *index.impl().db;
    const store::ReadTransaction snapshot(db);

    Collector collector(db, q);
    // An excluded word removes the whole document, not just the chunks that hold it.
    if (fq && !fq->exclude.empty()) {
        std::unordered_set<std::int64_t> excluded;
        auto& st = db.cached(
            "SELECT DISTINCT c.doc FROM chunks_fts f JOIN chunks c ON c.id = f.rowid "
            "WHERE chunks_fts MATCH ?1");
        st.bind(1, fq->exclude);
        while (st.step()) excluded.insert(st.int64(0));
        st.reset();
        collector.exclude(std::move(excluded));
    }

    const auto k = static_cast<std::size_t>(q.k);
    const std::size_t depth = lexical && vectors ? std::max(k, kFusionDepth) : k;
    std::vector<Ranked> by_bm25, by_vector;
    if (lexical) {
        // A document may hold several of the best chunks, and filters may turn some away: ask
        // for a few more than the depth, and for more again (then for all) if that was too
        // few. (A lower k is a higher threshold, which lets BM25 skip more.)
        std::size_t want = depth + depth / 4 + 16;
        for (int round = 0;; ++round) {
            auto top = lexical::bm25(db, index.impl().query_tokenizer(), terms, q.bm25, want);
            ++stats.bm25_rounds;
            by_bm25 = collector.collect(top.chunks, depth);
            if (by_bm25.size() >= depth || top.complete) break;
            want = round < kBm25Rounds ? want * 8 : 0;
        }
    }
    if (vectors) by_vector = vector_units(index, q, collector, depth, lexical, stats);

    // Fuse: each unit's place in each list, then one score.
    struct Fused {
        Ranked* first = nullptr;  // the BM25 entry if there is one: its chunk has the words
        Signal bm25, vector;
        double score = 0;
    };
    std::unordered_map<std::int64_t, Fused> fused;
    std::vector<std::int64_t> order;
    const bool both = lexical && vectors;
    const double best_bm25 = by_bm25.empty() ? 1 : by_bm25.front().score;
    const double best_vector = by_vector.empty() ? 1 : by_vector.front().score;
    auto add = [&](std::vector<Ranked>& list, Signal Fused::*signal, double weight, double best) {
        int rank = 0;
        for (auto& r : list) {
            auto [it, fresh] = fused.try_emplace(r.key);
            if (fresh) {
                it->second.first = &r;
                order.push_back(r.key);
            }
            it->second.*signal = {++rank, r.score};
            if (!both) {
                it->second.score = r.score;
            } else if (q.fusion.method == Fusion::Method::rrf) {
                it->second.score += weight / (q.fusion.k + rank);
            } else {
                it->second.score += weight * std::max(0.0, r.score) / (best > 0 ? best : 1);
            }
        }
    };
    add(by_bm25, &Fused::bm25, q.fusion.bm25, best_bm25);
    add(by_vector, &Fused::vector, q.fusion.vector, best_vector);
    std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
        const auto& fa = fused[a];
        const auto& fb = fused[b];
        return fa.score > fb.score || (fa.score == fb.score && a < b);
    });
    if (order.size() > k) order.resize(k);

    std::vector<Hit> hits;
    std::vector<std::int64_t> hit_chunks;
    for (const auto key : order) {
        auto& f = fused[key];
        Hit h = std::move(f.first->hit);
        h.score = f.score;
        h.bm25 = f.bm25;
        h.vector = f.vector;
        hit_chunks.push_back(f.first->chunk);
        hits.push_back(std::move(h));
    }
    if (q.snippets && !hits.empty()) {
        // Highlighting pasted paragraphs would cost more than the search (snippet() is
        // quadratic in the phrases); the first words of such a query are highlighted.
        const auto marked = lexical::fts_expressions(terms, kSnippetTerms);
        auto& snip = db.cached(
            "SELECT snippet(chunks_fts, 2, char(1), char(2), '…', 24) FROM chunks_fts "
            "WHERE chunks_fts MATCH ?1 AND rowid = ?2");
        for (std::size_t i = 0; i < hits.size(); ++i) {
            bool found = false;
            if (marked) {
                snip.bind(1, marked->match).bind(2, hit_chunks[i]);
                found = snip.step();
                if (found) split_highlights(hits[i], snip.text(0));
                snip.reset();
            }
            // A chunk found by its vector alone may hold none of the words.
            if (!found) hits[i].snippet = fallback_snippet(db, hit_chunks[i]);
        }
    }
    return hits;
}

}  // namespace

std::vector<Hit> search(const Index& index, const Query& q, SearchStats* stats_out) {
    SearchStats stats;
    auto hits = run_search(index, q, stats);
    if (stats_out != nullptr) *stats_out = stats;
    return hits;
}

}  // namespace rk
