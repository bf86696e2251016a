// One query: BM25 and vector candidates over chunks, filters, the best chunk per document,
// fusion of the two ranked lists, snippets.
#include "rk/search.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "lexical/bm25.hpp"
#include "lexical/feedback.hpp"
#include "lexical/query.hpp"
#include "rk/error.hpp"
#include "search/collector.hpp"
#include "search/rerank.hpp"
#include "search/vector_signal.hpp"
#include "store/index_impl.hpp"
#include "vector/store.hpp"

namespace rk {

namespace {

// How deep each signal's list goes before fusion: ranks past this add little to RRF.
constexpr std::size_t kFusionDepth = 100;
// The most distinct words a snippet highlights.
constexpr std::size_t kSnippetTerms = 64;
// How many times BM25 asks for eight times more chunks when documents hold several of its
// best or filters turn them away, before it asks for all.
constexpr int kBm25Rounds = 2;

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

// Reorders the first `depth` hits (and their chunks) as the query's reranker says; on failure
// leaves them in their fused order and says why in `stats`.
void rerank_hits(store::Database& db, const Query& q, std::size_t depth, std::vector<Hit>& hits,
                 std::vector<std::int64_t>& chunks, SearchStats& stats) {
    depth = std::min(depth, hits.size());
    std::vector<std::string> texts;
    auto& st = db.cached("SELECT body FROM chunk_view WHERE id = ?1");
    for (std::size_t i = 0; i < depth; ++i) {
        st.bind(1, chunks[i]);
        std::string body = st.step() ? st.str(0) : std::string();
        st.reset();
        // The title says what a document is about, which its chunk may not repeat.
        const auto& title = hits[i].title;
        if (title.empty() || body.starts_with(title)) {
            texts.push_back(std::move(body));
        } else {
            texts.push_back(title);
            texts.back().append("\n\n").append(body);
        }
    }
    std::vector<Reranked> ranked;
    try {
        ranked = call_reranker(*q.rerank, q.text, texts);
    } catch (const ServiceError& e) {
        stats.warnings.push_back(
            fmt::format("reranking failed, results are in their fused order: {}", e.message()));
        return;
    }
    // What the service ranked comes first; anything it left out follows in fused order.
    std::vector<std::size_t> order;
    std::vector<bool> placed(depth);
    for (const auto& r : ranked) {
        hits[r.index].rerank = r.score;
        hits[r.index].score = r.score;
        order.push_back(r.index);
        placed[r.index] = true;
    }
    for (std::size_t i = 0; i < depth; ++i) {
        if (!placed[i]) order.push_back(i);
    }
    std::vector<Hit> new_hits;
    std::vector<std::int64_t> new_chunks;
    for (const auto i : order) {
        new_hits.push_back(std::move(hits[i]));
        new_chunks.push_back(chunks[i]);
    }
    std::move(new_hits.begin(), new_hits.end(), hits.begin());
    std::copy(new_chunks.begin(), new_chunks.end(), chunks.begin());
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
    std::unordered_set<std::int64_t> excluded;
    if (fq && !fq->exclude.empty()) {
        auto& st = db.cached(
            "SELECT DISTINCT c.doc FROM chunks_fts f JOIN chunks c ON c.id = f.rowid "
            "WHERE chunks_fts MATCH ?1");
        st.bind(1, fq->exclude);
        while (st.step()) excluded.insert(st.int64(0));
        st.reset();
        collector.exclude(excluded);
    }

    // A reranker sees the first rerank_depth hits, though fewer may be shown.
    const std::size_t depth_reranked =
        q.rerank ? static_cast<std::size_t>(std::clamp(q.rerank_depth, 1, kMaxRerankDepth)) : 0;
    const auto k = std::max(static_cast<std::size_t>(q.k), depth_reranked);
    const auto shown = static_cast<std::size_t>(q.k);
    const std::size_t depth = lexical && vectors ? std::max(k, kFusionDepth) : k;
    std::vector<Ranked> by_bm25, by_vector;
    // Both signals: the vector one runs in a second thread (on a second connection, which a
    // snapshot this connection opened itself can be compared with).
    std::optional<VectorThread> vector_thread;
    if (lexical && vectors && snapshot.owned() && std::thread::hardware_concurrency() > 1) {
        vector_thread.emplace(index, q, std::move(excluded), depth);
    }
    if (lexical) {
        // A document may hold several of the best chunks, and filters may turn some away: ask
        // for a few more than the depth, and for more again (then for all) if that was too
        // few. (A lower k is a higher threshold, which lets BM25 skip more.)
        auto& tokenizer = index.impl().query_tokenizer();
        // BM25's helper thread takes the second core when the vector signal's thread is done
        // with it (see Bm25Work::helper_gate).
        lexical::Bm25Work work;
        if (vector_thread) work.helper_gate = &vector_thread->finished();
        std::vector<lexical::QueryTerm> ranked_terms;
        if (q.rm3) {
            // The feedback comes from the whole index, before filters: a filter that leaves
            // few chunks would leave little to learn from.
            const auto first =
                lexical::bm25(db, tokenizer, terms, q.bm25, static_cast<std::size_t>(q.rm3->docs),
                              &index.impl().posting_files(), work);
            ++stats.bm25_rounds;
            ranked_terms = lexical::rm3_expand(db, tokenizer, terms, first.chunks, *q.rm3);
        }
        const auto& bm25_terms = q.rm3 ? ranked_terms : terms;
        std::size_t want = depth + depth / 4 + 16;
        for (int round = 0;; ++round) {
            auto top = lexical::bm25(db, tokenizer, bm25_terms, q.bm25, want,
                                     &index.impl().posting_files(), work);
            ++stats.bm25_rounds;
            by_bm25 = collector.collect(top.chunks, depth);
            if (by_bm25.size() >= depth || top.complete) break;
            want = round < kBm25Rounds ? want * 8 : 0;
        }
    }
    try {
        if (vector_thread) {
            vector_thread->help(db);
            std::optional<std::vector<Ranked>> units;
            try {
                units = vector_thread->get(stats);
            } catch (const vector::GraphDamage& e) {
                index.impl().graph_damaged(e);
            }
            if (units) {
                by_vector = std::move(*units);
            } else {
                by_vector = vector_units(index, q, collector, depth, lexical, stats);
            }
        } else if (vectors) {
            by_vector = vector_units(index, q, collector, depth, lexical, stats);
        }
    } catch (const ServiceError& e) {
        // The embedding service is down: BM25 alone still answers (vector mode has nothing
        // else, and fails).
        if (!lexical) throw;
        stats.warnings.push_back(fmt::format(
            "the vector signal is left out, results are BM25's alone: {}", e.message()));
        by_vector.clear();
    }

    // Fuse: each unit's place in each list, then one score.
    struct Fused {
        Ranked* first = nullptr;  // the BM25 entry if there is one: its chunk has the words
        Signal bm25, vector;
        double score = 0;
    };
    std::unordered_map<std::int64_t, Fused> fused;
    std::vector<std::int64_t> order;
    const bool both = lexical && vectors;
    // Each list is in rank order: its first score is its best. Min-max scales from its last,
    // except a BM25 list shorter than the depth: it holds every match, so its last must still
    // count more than a document without the words, and it is scaled from one mean gap below
    // its last instead. (A short vector list was cut by the similarity floor: its last is the
    // least the signal vouches for.)
    auto add = [&](std::vector<Ranked>& list, Signal Fused::*signal, double weight,
                   bool holds_every_match) {
        if (list.empty()) return;
        const double best = list.front().score;
        const double last = list.back().score;
        const double worst =
            holds_every_match ? last - (best - last) / static_cast<double>(list.size()) : last;
        const double span = best - worst;
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
            } else if (q.fusion.method == Fusion::Method::minmax) {
                it->second.score += weight * (span > 0 ? (r.score - worst) / span : 1.0);
            } else if (q.fusion.method == Fusion::Method::rrf) {
                it->second.score += weight / (q.fusion.k + rank);
            } else {
                it->second.score += weight * std::max(0.0, r.score) / (best > 0 ? best : 1);
            }
        }
    };
    add(by_bm25, &Fused::bm25, q.fusion.bm25_weight(), by_bm25.size() < depth);
    add(by_vector, &Fused::vector, q.fusion.vector_weight(), false);
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
    if (q.rerank && !hits.empty()) rerank_hits(db, q, depth_reranked, hits, hit_chunks, stats);
    if (hits.size() > shown) {
        hits.resize(shown);
        hit_chunks.resize(shown);
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
