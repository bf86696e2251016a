#include "search/collector.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "rk/error.hpp"

namespace rk {

namespace {

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

}  // namespace

Collector::Collector(store::Database& db, const Query& q) : q_(q), db_(db) {
    std::string sql =
        "SELECT c.doc, c.seq, c.heading, d.ext_id, d.title, d.source, d.collection "
        "FROM chunks c JOIN documents d ON d.id = c.doc "
        "WHERE c.id = ?1 AND (?2 IS NULL OR d.collection = ?2)";
    sql += metadata_conditions(q.where.size());
    lookup_ = &db.cached(sql);
    for (const auto& condition : q.where) {
        // SQLite's JSON paths (3.40) read a quoted key up to the next '"', with no escapes, and
        // stop at a NUL: a key holding either matched nothing or failed the whole search with
        // "JSON path error" (found by fuzzing rk serve's where=). Refused as what it is.
        const std::string& key = condition.first;
        if (key.find_first_of(std::string_view("\"\0", 2)) != std::string::npos) {
            throw UsageError(fmt::format(
                "a metadata key to filter by cannot hold a double quote or a NUL byte ('{}')",
                key.find('"') != std::string::npos ? "\"" : "\\0"));
        }
        where_paths_.push_back("$.\"" + key + '"');
    }
    if (q.path_glob) glob_.emplace(*q.path_glob);
}

std::vector<std::pair<std::int64_t, std::string>> Collector::allowed_vectors(std::int64_t limit,
                                                                             std::size_t bytes) {
    // Only the codes: a model's vectors after them can be a hundred times their size.
    std::string sql = fmt::format(
        "SELECT x.chunk, substr(x.data, 1, {}) FROM vectors x JOIN chunks c ON c.id = x.chunk "
        "JOIN documents d ON d.id = c.doc WHERE (?2 IS NULL OR d.collection = ?2)",
        bytes);
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

bool Collector::passes(std::int64_t chunk) {
    auto& st = *lookup_;
    bind_filters(st);
    st.bind(1, chunk);
    bool ok = st.step();
    if (ok && glob_) ok = glob_->matches(st.text(3), st.text(5));
    st.reset();
    return ok;
}

std::vector<Ranked> Collector::collect(std::vector<lexical::ScoredChunk>& ranked,
                                       std::size_t depth) {
    auto better = [](const lexical::ScoredChunk& a, const lexical::ScoredChunk& b) {
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
            std::sort(ranked.begin() + static_cast<std::ptrdiff_t>(sorted), ranked.end(), better);
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

void Collector::bind_filters(store::Statement& st) const {
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

}  // namespace rk
