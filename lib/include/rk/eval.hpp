// Scoring retrieval runs against relevance judgements, with trec_eval's conventions:
// a run is ranked by score (ties broken by document id, descending), unjudged documents are
// not relevant, nDCG uses graded gains, and judged queries missing from the run score 0. A
// document is counted once per query, at its best place.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rk {

// query id -> document id -> relevance grade (> 0 means relevant).
using Qrels = std::map<std::string, std::unordered_map<std::string, int>>;

struct RunEntry {
    std::string doc;
    double score = 0;
};
// query id -> retrieved documents, in any order (evaluation ranks them itself).
using Run = std::unordered_map<std::string, std::vector<RunEntry>>;

struct QueryText {
    std::string id, text;
};

// Queries, one a line (its id is the line number), or JSONL objects with a string "text" and
// an "_id" (string or integer; else the line number), as a BEIR queries.jsonl. Blank lines
// are skipped. Throws InputError naming `name` and the line of a malformed one.
std::vector<QueryText> read_queries(std::istream& in, const std::string& name);
std::vector<QueryText> read_queries(const std::filesystem::path& file);

// TREC qrels ("qid iter docid rel") or BEIR's test.tsv ("query-id corpus-id score", with a
// header line; a line holding a tab is split at tabs only, so ids may hold spaces). A
// judgement repeated with the same grade is taken once. Throws InputError naming the file and
// line of anything else, or of a judgement that contradicts an earlier one.
Qrels read_qrels(const std::filesystem::path& file);
// A TREC run: "qid Q0 docid rank score tag" a line. The rank column is ignored. A query or
// document id is taken as written when `qrels` judge it so, else unescaped (unescape_id in
// rk/ids.hpp) when it can be: rk writes ids escaped, so that any id fits in a field. A
// document listed twice for one query throws InputError naming both lines (trec_eval refuses
// such a run too), unless `dedupe`: then it is kept once, with the higher of its scores.
Run read_run(const std::filesystem::path& file, const Qrels& qrels, bool dedupe = false);

struct Metric {
    enum class Kind { ndcg, recall, mrr, map, precision };
    Kind kind = Kind::ndcg;
    int k = 10;
    [[nodiscard]] std::string name() const;  // "nDCG@10", "Recall@100", ...
};

// "ndcg@10,recall@100,mrr@10,map@100,p@10" (case-insensitive; a bare name means @10).
std::vector<Metric> parse_metrics(std::string_view spec);

struct Evaluation {
    std::vector<Metric> metrics;
    std::vector<double> mean;  // one per metric, averaged over the judged queries
    std::vector<std::pair<std::string, std::vector<double>>> per_query;  // in qrels order
};

Evaluation evaluate(const Qrels& qrels, const Run& run, const std::vector<Metric>& metrics);

}  // namespace rk
