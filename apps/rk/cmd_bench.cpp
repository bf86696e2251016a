// rk bench: measure retrieval quality and speed on BEIR-layout datasets, and judge them.
#include <fstream>

#include "cli.hpp"
#include "rk/bench.hpp"
#include "rk/error.hpp"

namespace rk::cli {

namespace {

struct BenchFlags {
    std::vector<std::string> datasets;
    std::string modes;  // empty: every mode the index can run
    std::string fusion;
    std::string vector_search = "auto";
    BenchOptions o;
    std::string report, gate, baseline;
    std::string max_regression = "5";
    std::string bm25;
    Rm3Flags rm3;
    std::string rerank;
    Settings settings;
    bool settings_given = false;  // --tokenizer, --chunk-size or --chunk-overlap
    bool no_ingest = false;
};

double parse_percent(std::string s) {
    if (!s.empty() && s.back() == '%') s.pop_back();
    try {
        std::size_t used = 0;
        const double v = std::stod(s, &used);
        if (used == s.size() && v >= 0) return v;
    } catch (const std::exception&) {
    }
    throw UsageError(
        fmt::format("--max-regression wants a percentage such as 5 or 5%, got '{}'", s));
}

std::string table(const std::vector<DatasetResult>& results) {
    std::vector<std::string> metric_names;
    for (const auto& r : results) {
        for (const auto& m : r.modes) {
            for (const auto& [name, v] : m.quality) {
                if (std::find(metric_names.begin(), metric_names.end(), name) ==
                    metric_names.end()) {
                    metric_names.push_back(name);
                }
            }
        }
    }
    std::string t = fmt::format("{:<14} {:<7} {:>7} {:>7}", "dataset", "mode", "docs", "queries");
    for (const auto& n : metric_names) t += fmt::format(" {:>10}", n);
    t += fmt::format(" {:>9} {:>9} {:>9} {:>8} {:>9} {:>10} {:>10} {:>9}\n", "median_ms", "p95_ms",
                     "p99_ms", "qps", "ingest_s", "docs/s", "index", "rss");
    for (const auto& r : results) {
        for (const auto& m : r.modes) {
            t += fmt::format("{:<14} {:<7} {:>7} {:>7}", r.name, m.mode, r.documents, r.queries);
            for (const auto& n : metric_names) {
                const auto v = r.figure(m.mode, n);
                t += v ? fmt::format(" {:>10.4f}", *v) : fmt::format(" {:>10}", "-");
            }
            t += fmt::format(
                " {:>9.3f} {:>9.3f} {:>9.3f} {:>8.0f} {:>9.3f} {:>10.0f} {:>10} {:>9}\n",
                m.latency.median_ms, m.latency.p95_ms, m.latency.p99_ms, m.latency.qps,
                r.ingest_seconds, r.docs_per_s, human_bytes(r.index_bytes),
                human_bytes(r.peak_rss_bytes));
        }
    }
    return t;
}

int run_bench_cmd(Context& ctx, BenchFlags& f) {
    f.o.modes.clear();
    std::size_t pos = 0;
    while (pos <= f.modes.size()) {
        std::size_t comma = f.modes.find(',', pos);
        if (comma == std::string::npos) comma = f.modes.size();
        if (comma > pos) f.o.modes.push_back(f.modes.substr(pos, comma - pos));
        pos = comma + 1;
    }
    f.o.bm25 = parse_bm25_params(f.bm25);
    f.o.fusion = parse_fusion(f.fusion);
    f.o.rm3 = f.rm3.parse();
    if (!f.rerank.empty()) f.o.rerank = f.rerank;
    f.o.vector_search = parse_vector_search(f.vector_search);
    check_bench_options(f.o);
    const double max_regression = parse_percent(f.max_regression);
    if (!ctx.index_flag.empty() && f.datasets.size() > 1) {
        throw UsageError("--index holds one dataset; benchmark several without --index");
    }
    f.o.ingest = !f.no_ingest;
    if (!f.o.ingest && ctx.index_flag.empty()) {
        throw UsageError("--no-ingest measures an existing index: name it with --index");
    }
    // Everything that can be wrong with the other files is found before the long run.
    if (!f.gate.empty()) (void)check_gates({}, f.gate);
    if (!f.baseline.empty()) (void)check_baseline({}, f.baseline, max_regression);
    std::ofstream report;
    if (!f.report.empty()) {
        report.open(f.report, std::ios::binary | std::ios::trunc);
        if (!report) throw Error("cannot write the report", f.report);
    }

    std::vector<DatasetResult> results;
    for (const auto& d : f.datasets) {
        std::optional<ScratchDir> scratch;
        Index index = [&] {
            if (ctx.index_flag.empty()) {
                scratch.emplace();
                return Index::create(scratch->path() / "index", f.settings);
            }
            bool created = false;
            Index i = f.o.ingest ? Index::open_or_create(ctx.index_flag, f.settings, &created)
                                 : Index::open(ctx.index_flag, Index::Mode::read);
            const Settings& s = i.settings();
            if (!created && f.settings_given &&
                (s.tokenizer != f.settings.tokenizer || s.chunk_size != f.settings.chunk_size ||
                 s.chunk_overlap != f.settings.chunk_overlap)) {
                throw UsageError(fmt::format(
                    "index {} has tokenizer {}, chunks {}/{}; --tokenizer and --chunk-* apply "
                    "only to a new index",
                    i.dir().string(), s.tokenizer, s.chunk_size, s.chunk_overlap));
            }
            return i;
        }();
        ctx.listen(index);
        results.push_back(run_bench(d, index, f.o, [&](const std::string& msg) {
            if (ctx.verbose > 0) ctx.note(msg);
        }));
    }
    out(table(results));

    if (report.is_open()) {
        report << bench_report(results, f.o) << '\n';
        report.close();
        if (!report) throw Error("cannot write the report", f.report);
        ctx.note(fmt::format("report written to {}", f.report));
    }
    std::vector<std::string> failed;
    if (!f.gate.empty()) failed = check_gates(results, f.gate);
    if (!f.baseline.empty()) {
        auto more = check_baseline(results, f.baseline, max_regression);
        failed.insert(failed.end(), more.begin(), more.end());
    }
    for (const auto& line : failed) {
        fmt::print(stderr, "rk: {} {}\n", style(ctx.color_stderr(), "31", "gate failed:"), line);
    }
    if (!failed.empty()) return kNegative;
    if (!f.gate.empty() || !f.baseline.empty()) ctx.note("all gates passed");
    return kOk;
}

}  // namespace

void add_bench(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand(
        "bench", "Measure retrieval quality and speed on BEIR datasets; gate on them");
    auto f = std::make_shared<BenchFlags>();
    cmd->add_option("DATASET", f->datasets,
                    "Directories in BEIR layout: corpus.jsonl, queries.jsonl, qrels/test.tsv")
        ->required();
    cmd->add_option(
           "--mode", f->modes,
           "Comma-separated modes to measure: bm25, vector, hybrid (default: all the index "
           "can run)")
        ->type_name("LIST");
    cmd->add_option("-k", f->o.k, "Results per query in the scored run")
        ->type_name("N")
        ->check(CLI::Range(1, 100000));
    cmd->add_option("--warmup", f->o.warmup, "Untimed passes over the queries")
        ->type_name("N")
        ->check(CLI::Range(0, 1000));
    cmd->add_option("--repeat", f->o.repeat, "Timed passes over the queries")
        ->type_name("N")
        ->check(CLI::Range(1, 1000));
    cmd->add_option("--metrics", f->o.metrics, "Quality metrics, as rk eval takes them")
        ->type_name("LIST")
        ->check(metric_list());
    cmd->add_option("--report", f->report, "Write the JSON report to FILE")->type_name("FILE");
    cmd->add_option("--gate", f->gate, "Fail (exit 1) when a figure breaks FILE's bounds")
        ->type_name("FILE");
    cmd->add_option("--baseline", f->baseline,
                    "Fail (exit 1) when quality fell or speed regressed against REPORT")
        ->type_name("REPORT");
    cmd->add_option("--max-regression", f->max_regression,
                    "Slowdown allowed against --baseline, in percent")
        ->type_name("PCT");
    cmd->add_option("--fusion", f->fusion,
                    "How hybrid fuses: minmax (the default), rrf or weighted; k=80 (rrf), bm25=W, "
                    "vector=W (default 1 and 0.4 with minmax, 2 and 1 otherwise), comma-separated")
        ->type_name("LIST");
    cmd->add_option("--ef", f->o.ef, "HNSW search breadth (at least twice the candidates wanted)")
        ->type_name("N")
        ->default_str("128")
        ->check(CLI::Range(1, 100000));
    cmd->add_option("--vector-search", f->vector_search,
                    "auto (exact over a few thousand vectors, else HNSW), exact or hnsw")
        ->check(CLI::IsMember({"auto", "exact", "hnsw"}));
    cmd->add_option("--bm25", f->bm25,
                    "BM25 parameters, any of k1=1.2,b=0.7,title=2,heading=1.5,body=1")
        ->type_name("LIST");
    add_rm3_options(cmd, f->rm3);
    add_rerank_options(cmd, f->rerank, f->o.rerank_depth);
    cmd->add_flag("--no-ingest", f->no_ingest,
                  "Measure the --index as it is; the dataset needs only queries.jsonl");
    cmd->add_option("-j,--jobs", f->o.jobs, "Ingest threads (0: one per core)")->type_name("N");
    cmd->add_option("--tokenizer", f->settings.tokenizer, "Tokenizer of the fresh index")
        ->type_name("NAME");
    cmd->add_option("--chunk-size", f->settings.chunk_size, "Chunk size of the fresh index")
        ->type_name("N");
    cmd->add_option("--chunk-overlap", f->settings.chunk_overlap,
                    "Chunk overlap of the fresh index")
        ->type_name("N");
    cmd->footer(
        "Each dataset gets a fresh temporary index; with the global --index (one dataset\n"
        "only) that index is created or reused, and ingest is incremental; --no-ingest\n"
        "measures it as it is. A dataset without qrels/test.tsv is measured for speed\n"
        "alone, over all its queries.\n"
        "Exit status: 0 when every gate passes, 1 when one fails, 2 on error.\n"
        "Examples:\n"
        "  rk bench ../shared/datasets/cranfield\n"
        "  rk bench ../shared/datasets/* --report today.json\n"
        "  rk bench ../shared/datasets/* --gate bench/gates.json --baseline last.json");
    cmd->callback([&ctx, f, cmd] {
        f->settings_given =
            cmd->count("--tokenizer") + cmd->count("--chunk-size") + cmd->count("--chunk-overlap") >
            0;
        ctx.action = [&ctx, f] { return run_bench_cmd(ctx, *f); };
    });
}

}  // namespace rk::cli
