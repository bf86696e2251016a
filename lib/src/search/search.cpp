// One lexical query: BM25 over chunks, best chunk per document, filters, snippets.
#include "rk/search.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_set>

#include "lexical/bm25.hpp"
#include "lexical/query.hpp"
#include "store/index_impl.hpp"
#include "util/glob.hpp"

namespace rk {

namespace {

// Column weights for title, heading path and body in BM25.
constexpr double kTitleWeight = 2.0, kHeadingWeight = 1.5, kBodyWeight = 1.0;

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

std::vector<Hit> search(const Index& index, const Query& q) {
    const auto terms = lexical::parse_query(q.text);
    const auto fq = lexical::fts_expressions(terms);
    if (!fq || q.k <= 0) return {};
    auto& db = *index.impl().db;
    const store::ReadTransaction snapshot(db);

    auto ranked = lexical::bm25(db, index.impl().query_tokenizer(), terms, q.bm25);
    if (ranked.empty()) return {};

    // An excluded word removes the whole document, not just the chunks that hold it.
    std::unordered_set<std::int64_t> excluded;
    if (!fq->exclude.empty()) {
        auto& st = db.cached(
            "SELECT DISTINCT c.doc FROM chunks_fts f JOIN chunks c ON c.id = f.rowid "
            "WHERE chunks_fts MATCH ?1");
        st.bind(1, fq->exclude);
        while (st.step()) excluded.insert(st.int64(0));
        st.reset();
    }

    // A candidate chunk's document, unless a filter rules it out (then no row).
    std::string sql =
        "SELECT c.doc, c.seq, c.heading, d.ext_id, d.title, d.source, d.collection "
        "FROM chunks c JOIN documents d ON d.id = c.doc "
        "WHERE c.id = ?1 AND (?2 IS NULL OR d.collection = ?2)";
    for (std::size_t i = 0; i < q.where.size(); ++i) {
        // Metadata values are compared as text: 2020, true and "2020" all match --where k=2020.
        sql += fmt::format(
            " AND (CASE json_type(d.meta, ?{0}) WHEN 'true' THEN 'true' WHEN 'false' THEN "
            "'false' ELSE CAST(json_extract(d.meta, ?{0}) AS TEXT) END) = ?{1}",
            3 + 2 * i, 4 + 2 * i);
    }
    std::vector<std::string> where_paths;  // JSON paths of the --where keys
    for (const auto& condition : q.where) {
        std::string path = "$.\"";
        for (const char c : condition.first)
            path += c == '"' ? std::string("\\\"") : std::string(1, c);
        path += '"';
        where_paths.push_back(std::move(path));
    }
    auto& lookup = db.cached(sql);
    auto bind_filters = [&] {
        if (q.collection) {
            lookup.bind(2, *q.collection);
        } else {
            lookup.bind_null(2);
        }
        for (std::size_t i = 0; i < q.where.size(); ++i) {
            lookup.bind(static_cast<int>(3 + 2 * i), where_paths[i]);
            lookup.bind(static_cast<int>(4 + 2 * i), q.where[i].second);
        }
    };
    const std::optional<util::DocumentGlob> path_glob =
        q.path_glob ? std::optional<util::DocumentGlob>(*q.path_glob) : std::nullopt;

    // Best first; ties by chunk id, so that equal scores rank the same on every run. Only the
    // head is sorted at first: most queries need a few dozen candidates, not all of them.
    auto better = [](const lexical::ScoredChunk& a, const lexical::ScoredChunk& b) {
        return a.score > b.score || (a.score == b.score && a.chunk < b.chunk);
    };
    std::size_t sorted = std::min(ranked.size(), std::size_t{64} + 4 * std::size_t(q.k));
    std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(sorted),
                      ranked.end(), better);

    std::vector<Hit> hits;
    std::vector<std::int64_t> hit_chunks;
    std::unordered_set<std::int64_t> docs;
    for (std::size_t i = 0; i < ranked.size() && static_cast<int>(hits.size()) < q.k; ++i) {
        if (i == sorted) {
            std::sort(ranked.begin() + static_cast<std::ptrdiff_t>(sorted), ranked.end(), better);
            sorted = ranked.size();
        }
        bind_filters();
        lookup.bind(1, ranked[i].chunk);
        if (!lookup.step()) {
            lookup.reset();
            continue;
        }
        const std::int64_t doc = lookup.int64(0);
        if (excluded.contains(doc) || (!q.chunks && docs.contains(doc))) {
            lookup.reset();
            continue;
        }
        Hit h;
        h.id = lookup.str(3);
        h.source = lookup.str(5);
        if (path_glob && !path_glob->matches(h.id, h.source)) {
            lookup.reset();
            continue;
        }
        h.chunk = lookup.int64(1);
        h.heading = lookup.str(2);
        h.title = lookup.str(4);
        h.collection = lookup.str(6);
        h.score = ranked[i].score;
        lookup.reset();
        docs.insert(doc);
        hit_chunks.push_back(ranked[i].chunk);
        hits.push_back(std::move(h));
    }
    if (q.snippets && !hits.empty()) {
        auto& snip = db.cached(
            "SELECT snippet(chunks_fts, 2, char(1), char(2), '…', 24) FROM chunks_fts "
            "WHERE chunks_fts MATCH ?1 AND rowid = ?2");
        for (std::size_t i = 0; i < hits.size(); ++i) {
            snip.bind(1, fq->match).bind(2, hit_chunks[i]);
            if (snip.step()) split_highlights(hits[i], snip.text(0));
            snip.reset();
        }
    }
    return hits;
}

}  // namespace rk
