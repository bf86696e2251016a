#include "lexical/bm25.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <string>

#include "lexical/fts_functions.hpp"
#include "lexical/postings.hpp"
#include "rk/error.hpp"

namespace rk::lexical {

namespace {

// A phrase or prefix: FTS5 finds the chunks and counts the matches per field.
void fts_postings(store::Statement& st, const QueryTerm& term, std::vector<Posting>& out) {
    out.clear();
    st.bind(1, fts_atom(term));
    while (st.step()) {
        Posting p;
        p.chunk = st.int64(0);
        p.tf = unpack_field_tf(st.int64(1));
        p.length = static_cast<std::uint32_t>(st.int64(2));
        out.push_back(p);
    }
    st.reset();
}

}  // namespace

std::vector<ScoredChunk> bm25(store::Database& db, text::Tokenizer& tokenizer,
                              const std::vector<QueryTerm>& terms, const Bm25Params& params) {
    PostingReader reader(db);
    const CorpusStats& stats = reader.stats();
    const auto n_chunks = static_cast<double>(stats.chunks);
    const double avg_length = stats.chunks > 0 ? static_cast<double>(stats.length) / n_chunks : 1.0;
    const std::array<double, kFields> weights{params.title, params.heading, params.body};
    const double k1 = params.k1, b = params.b;

    auto& max_id = db.cached("SELECT max(id) FROM chunks");
    const std::int64_t max_chunk = max_id.step() ? max_id.int64(0) : 0;
    max_id.reset();
    std::vector<double> acc(static_cast<std::size_t>(max_chunk) + 1, 0.0);
    std::vector<char> seen(acc.size(), 0);
    std::vector<ScoredChunk> out;

    store::Statement* fts = nullptr;
    std::vector<Posting> postings;
    std::vector<std::string> tokens;
    for (const auto& term : terms) {
        if (term.excluded) continue;
        tokens.clear();
        tokenizer.tokenize(term.text, text::Tokenizer::Purpose::query,
                           [&](std::string_view t) { tokens.emplace_back(t); });
        if (tokens.empty()) continue;
        if (tokens.size() == 1 && !term.prefix) {
            reader.read(tokens.front(), postings);
        } else {
            if (fts == nullptr) {
                fts = &db.cached(
                    "SELECT f.rowid, rk_field_tf(chunks_fts), c.lex_len FROM chunks_fts f "
                    "JOIN chunks c ON c.id = f.rowid WHERE chunks_fts MATCH ?1");
            }
            fts_postings(*fts, term, postings);
        }
        if (postings.empty()) continue;
        // Lucene's IDF: never negative, so a term in most chunks still counts a little,
        // unlike FTS5's bm25(), which flattens every such term to the same tiny weight.
        const auto df = static_cast<double>(postings.size());
        const double idf = std::log(1.0 + std::max(0.0, n_chunks - df + 0.5) / (df + 0.5));
        for (const auto& p : postings) {
            double f = 0;
            for (std::size_t i = 0; i < kFields; ++i) f += weights[i] * p.tf[i];
            if (f <= 0 || p.chunk <= 0 || p.chunk > max_chunk) continue;
            const double norm = k1 * (1.0 - b + b * p.length / avg_length);
            const auto at = static_cast<std::size_t>(p.chunk);
            acc[at] += idf * f * (k1 + 1.0) / (f + norm);
            if (seen[at] == 0) {
                seen[at] = 1;
                out.push_back({p.chunk, 0.0});
            }
        }
    }
    for (auto& s : out) s.score = acc[static_cast<std::size_t>(s.chunk)];
    return out;
}

}  // namespace rk::lexical

namespace rk {}  // namespace rk
