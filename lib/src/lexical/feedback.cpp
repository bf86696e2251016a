#include "lexical/feedback.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_map>
#include <utility>

#include "lexical/postings.hpp"

namespace rk::lexical {

namespace {

// A term's live chunk count over every segment.
double document_frequency(store::Database& db, const std::string& term) {
    auto& st = db.cached("SELECT coalesce(sum(df), 0) FROM lex_postings WHERE term = ?1");
    st.bind(1, term);
    double df = st.step() ? static_cast<double>(st.int64(0)) : 0;
    st.reset();
    auto& dead = db.cached("SELECT n FROM lex_dead_df WHERE term = ?1");
    dead.bind(1, term);
    if (dead.step()) df -= static_cast<double>(dead.int64(0));
    dead.reset();
    return df;
}

}  // namespace

std::vector<QueryTerm> rm3_expand(store::Database& db, text::Tokenizer& tokenizer,
                                  const std::vector<QueryTerm>& terms,
                                  const std::vector<ScoredChunk>& top, const Rm3Params& params) {
    std::vector<QueryTerm> out = terms;
    const auto docs = std::min(top.size(), static_cast<std::size_t>(std::max(params.docs, 0)));
    double total_score = 0;
    for (std::size_t i = 0; i < docs; ++i) total_score += top[i].score;
    if (docs == 0 || total_score <= 0 || params.terms <= 0 || params.original >= 1) return out;

    // The relevance model: P(t|R) = sum over chunks of P(t|chunk) * P(chunk|query).
    std::unordered_map<std::string, double> model;
    TermCounter counter(tokenizer);
    auto& st = db.cached("SELECT title, heading, body FROM chunk_view WHERE id = ?1");
    for (std::size_t i = 0; i < docs; ++i) {
        st.bind(1, top[i].chunk);
        if (st.step()) {
            const ChunkTerms counted = counter.count(st.text(0), st.text(1), st.text(2));
            if (counted.length > 0) {
                const double chunk_weight = top[i].score / total_score;
                for (const auto& t : counted.terms) {
                    const double tf = static_cast<double>(t.tf[0] + t.tf[1] + t.tf[2]);
                    model[t.term] += chunk_weight * tf / counted.length;
                }
            }
        }
        st.reset();
    }

    // The query's own tokens are not expansions: they are in the query already.
    std::vector<std::string> own;
    for (const auto& term : terms) {
        tokenizer.tokenize(term.text, text::Tokenizer::Purpose::query,
                           [&](std::string_view t) { own.emplace_back(t); });
    }
    std::vector<std::pair<std::string, double>> ranked(model.begin(), model.end());
    std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
        return a.second > b.second || (a.second == b.second && a.first < b.first);
    });
    const double chunks = static_cast<double>(read_corpus_stats(db).chunks);
    std::vector<std::pair<std::string, double>> picked;
    double picked_mass = 0;
    for (const auto& [term, p] : ranked) {
        if (picked.size() >= static_cast<std::size_t>(params.terms)) break;
        // (Counted in code points would be fairer to CJK; one byte is a letter or digit.)
        if (term.size() < 2) continue;
        if (std::find(own.begin(), own.end(), term) != own.end()) continue;
        if (document_frequency(db, term) > params.max_df * chunks) continue;
        picked.emplace_back(term, p);
        picked_mass += p;
    }
    if (picked.empty()) return out;

    // The original words weigh 1 each, `original` of the whole together (each distinct token
    // once, as BM25 counts them); the expansion terms share the rest by their model weight.
    std::vector<std::string> counted;
    for (const auto& term : terms) {
        if (term.excluded) continue;
        std::vector<std::string> tokens;
        tokenizer.tokenize(term.text, text::Tokenizer::Purpose::query,
                           [&](std::string_view t) { tokens.emplace_back(t); });
        if (tokens.empty()) continue;
        if (scored_by_tokens(term, tokens)) {
            counted.insert(counted.end(), tokens.begin(), tokens.end());
        } else {
            counted.push_back(whole_term_key(term, tokens));
        }
    }
    std::sort(counted.begin(), counted.end());
    const auto originals =
        static_cast<std::size_t>(std::unique(counted.begin(), counted.end()) - counted.begin());
    if (originals == 0) return out;
    const double scale =
        static_cast<double>(originals) * (1 - params.original) / std::max(params.original, 1e-9);
    for (const auto& [term, p] : picked) {
        QueryTerm q;
        q.text = term;
        q.token = true;
        q.weight = scale * p / picked_mass;
        out.push_back(std::move(q));
    }
    return out;
}

}  // namespace rk::lexical
