// The retrieval benchmark: ingest a BEIR-layout dataset, run its judged queries, measure
// quality (deterministic) and speed (medians over repeated runs), and judge the figures
// against gates and an earlier report.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rk/index.hpp"
#include "rk/search.hpp"

namespace rk {

struct BenchOptions {
    // Empty: every mode the index can run (bm25 alone when it has no vectors).
    std::vector<std::string> modes;
    int k = 100;     // results per query, for the run that is scored
    int warmup = 1;  // untimed passes over the queries
    int repeat = 5;  // timed passes; latencies are taken over all of them
    std::string metrics = "ndcg@10,recall@100,mrr@10,map@100,p@10";
    unsigned jobs = 0;  // ingest threads
    Bm25Params bm25;
    Fusion fusion;
    std::optional<Rm3Params> rm3;  // set: every query expanded by RM3 feedback
    int ef = 0;                    // HNSW search breadth; 0 for the default
    Query::VectorSearch vector_search = Query::VectorSearch::automatic;
    // Set: a reranking service reorders each query's first rerank_depth hits (Query::rerank);
    // its failing on any scored query fails the benchmark, whose figures would not be its.
    std::optional<std::string> rerank;
    int rerank_depth = 50;
    // false: measure the index as it is, without ingesting the dataset's corpus (which then
    // need not be there).
    bool ingest = true;
};

struct Latency {
    double median_ms = 0, p95_ms = 0, p99_ms = 0, mean_ms = 0;
    double qps = 0;  // queries per second over the median pass
};

struct ModeResult {
    std::string mode;
    std::vector<std::pair<std::string, double>> quality;  // metric name -> mean
    Latency latency;
};

struct DatasetResult {
    std::string name;        // the dataset directory's name
    std::string path, hash;  // hash: XXH3-128 of corpus, queries and qrels
    std::int64_t documents = 0, queries = 0;
    double ingest_seconds = 0, docs_per_s = 0;
    std::int64_t index_bytes = 0, peak_rss_bytes = 0;
    std::vector<ModeResult> modes;

    // A figure by name, if `mode` was measured: a quality metric ("nDCG@10"), "median_ms",
    // "p95_ms", "p99_ms", "mean_ms", "qps"; or one of the dataset's: "ingest_seconds",
    // "docs_per_s", "index_bytes", "peak_rss_bytes".
    [[nodiscard]] std::optional<double> figure(const std::string& mode,
                                               const std::string& figure_name) const;
};

// Throws UsageError for modes or metrics that cannot be measured.
void check_bench_options(const BenchOptions& options);

// Runs the benchmark of one dataset directory into `index` (opened for writing; fresh or
// reused, ingest is incremental). A dataset without qrels/test.tsv is measured for speed
// alone, over all its queries. `note` receives progress messages. Throws InputError for a
// directory without queries.jsonl (or corpus.jsonl, when it is to be ingested).
DatasetResult run_bench(const std::filesystem::path& dataset, Index& index,
                        const BenchOptions& options,
                        const std::function<void(const std::string&)>& note = {});

// The JSON report: machine, build, options, and every dataset's figures.
std::string bench_report(const std::vector<DatasetResult>& results, const BenchOptions& options);

// Gates: {"DATASET": {"MODE": {"FIGURE": {"min": X} or {"max": Y}}}}. Returns one line
// per failed gate (empty when all pass); gates of datasets not in `results` are ignored.
// Throws InputError for a malformed file, whatever the results.
std::vector<std::string> check_gates(const std::vector<DatasetResult>& results,
                                     const std::filesystem::path& gate_file);

// Compares with an earlier report of the same datasets: quality must not drop (beyond the
// 4th decimal), median latency and ingest time must not grow by more than
// `max_regression_pct` percent; a dataset the baseline lacks or whose files changed fails.
// Returns one line per regression. Throws InputError when the file is not a report.
std::vector<std::string> check_baseline(const std::vector<DatasetResult>& results,
                                        const std::filesystem::path& baseline_report,
                                        double max_regression_pct);

}  // namespace rk
