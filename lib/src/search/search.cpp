// One lexical query: FTS5 BM25 over chunks, best chunk per document, filters, snippets.
#include "rk/search.hpp"

#include <fmt/format.h>

#include <unordered_set>

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
    const auto fq = fts_query(q.text);
    if (!fq || q.k <= 0) return {};
    const std::string& expr = fq->match;
    auto& db = *index.impl().db;

    std::string sql = fmt::format(
        "SELECT c.doc, f.rowid, bm25(chunks_fts, {}, {}, {}) AS s, d.ext_id, d.title, d.source, "
        "d.collection, c.heading, c.seq "
        "FROM chunks_fts f JOIN chunks c ON c.id = f.rowid JOIN documents d ON d.id = c.doc "
        "WHERE chunks_fts MATCH ?1 AND (?2 IS NULL OR d.collection = ?2)",
        kTitleWeight, kHeadingWeight, kBodyWeight);
    for (std::size_t i = 0; i < q.where.size(); ++i) {
        // Metadata values are compared as text: 2020, true and "2020" all match --where k=2020.
        sql += fmt::format(
            " AND (CASE json_type(d.meta, ?{0}) WHEN 'true' THEN 'true' WHEN 'false' THEN "
            "'false' ELSE CAST(json_extract(d.meta, ?{0}) AS TEXT) END) = ?{1}",
            4 + 2 * i, 5 + 2 * i);
    }
    const int exclude_param = static_cast<int>(4 + 2 * q.where.size());
    if (!fq->exclude.empty()) {
        // An excluded word removes the whole document, not just the chunks that hold it.
        sql += fmt::format(
            " AND c.doc NOT IN (SELECT x.doc FROM chunks_fts xf JOIN chunks x ON x.id = xf.rowid "
            "WHERE chunks_fts MATCH ?{})",
            exclude_param);
    }
    sql += " ORDER BY s LIMIT ?3";

    const std::optional<util::DocumentGlob> path_glob =
        q.path_glob ? std::optional<util::DocumentGlob>(*q.path_glob) : std::nullopt;
    std::vector<Hit> hits;
    std::int64_t limit = std::max<std::int64_t>(100, std::int64_t{q.k} * 8);
    for (;;) {
        hits.clear();
        auto st = db.prepare(sql);
        st.bind(1, expr);
        if (!fq->exclude.empty()) st.bind(exclude_param, fq->exclude);
        if (q.collection) {
            st.bind(2, *q.collection);
        } else {
            st.bind_null(2);
        }
        st.bind(3, limit);
        for (std::size_t i = 0; i < q.where.size(); ++i) {
            std::string path = "$.\"";
            for (const char c : q.where[i].first)
                path += c == '"' ? std::string("\\\"") : std::string(1, c);
            path += '"';
            st.bind(static_cast<int>(4 + 2 * i), path);
            st.bind(static_cast<int>(5 + 2 * i), q.where[i].second);
        }
        std::unordered_set<std::int64_t> docs;
        std::int64_t rows = 0;
        std::vector<std::int64_t> chunk_rowids;
        while (st.step()) {
            ++rows;
            if (static_cast<int>(hits.size()) >= q.k) continue;
            const std::int64_t doc = st.int64(0);
            if (!q.chunks && docs.contains(doc)) continue;
            Hit h;
            h.id = st.str(3);
            h.title = st.str(4);
            h.source = st.str(5);
            if (path_glob && !path_glob->matches(h.id, h.source)) continue;
            docs.insert(doc);
            h.collection = st.str(6);
            h.heading = st.str(7);
            h.chunk = st.int64(8);
            h.score = -st.real(2);  // FTS5's bm25() is negative: lower is better
            chunk_rowids.push_back(st.int64(1));
            hits.push_back(std::move(h));
        }
        if (static_cast<int>(hits.size()) >= q.k || rows < limit) {
            if (!q.snippets) return hits;
            auto snip = db.prepare(
                "SELECT snippet(chunks_fts, 2, char(1), char(2), '…', 24) FROM chunks_fts "
                "WHERE chunks_fts MATCH ?1 AND rowid = ?2");
            for (std::size_t i = 0; i < hits.size(); ++i) {
                snip.bind(1, expr).bind(2, chunk_rowids[i]);
                if (snip.step()) split_highlights(hits[i], snip.text(0));
                snip.reset();
            }
            return hits;
        }
        limit *= 8;
    }
}

}  // namespace rk
