// rk eval: score a TREC run file against relevance judgements.
#include "cli.hpp"
#include "rk/eval.hpp"
#include "rk/ids.hpp"
#include "rk/json.hpp"

namespace rk::cli {

namespace {

struct EvalFlags {
    std::string qrels, run;
    std::string metrics = "ndcg@10,recall@100,mrr@10,map@100,p@10";
    std::string format = "text";
    bool per_query = false;
    bool dedupe = false;
};

int run_eval(const EvalFlags& f) {
    const auto metrics = parse_metrics(f.metrics);
    const Qrels qrels = read_qrels(f.qrels);
    const Evaluation e = evaluate(qrels, read_run(f.run, qrels, f.dedupe), metrics);
    if (f.format == "json") {
        JsonWriter w;
        w.begin_object().key("queries").value(static_cast<std::int64_t>(e.per_query.size()));
        w.key("metrics").begin_object();
        for (std::size_t i = 0; i < metrics.size(); ++i) w.key(metrics[i].name()).value(e.mean[i]);
        w.end_object();
        if (f.per_query) {
            w.key("per_query").begin_object();
            for (const auto& [qid, values] : e.per_query) {
                w.key(qid).begin_object();
                for (std::size_t i = 0; i < metrics.size(); ++i) {
                    w.key(metrics[i].name()).value(values[i]);
                }
                w.end_object();
            }
            w.end_object();
        }
        w.end_object();
        out(w.str() + "\n");
        return kOk;
    }
    // trec_eval's layout: measure, query (or "all"), value.
    std::string t;
    if (f.per_query) {
        for (const auto& [qid, values] : e.per_query) {
            for (std::size_t i = 0; i < metrics.size(); ++i) {
                t += fmt::format("{:<12}\t{}\t{:.4f}\n", metrics[i].name(), escape_id(qid),
                                 values[i]);
            }
        }
    }
    for (std::size_t i = 0; i < metrics.size(); ++i) {
        t += fmt::format("{:<12}\tall\t{:.4f}\n", metrics[i].name(), e.mean[i]);
    }
    t += fmt::format("{:<12}\tall\t{}\n", "queries", e.per_query.size());
    out(t);
    return kOk;
}

}  // namespace

void add_eval(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("eval", "Score a TREC run file against relevance judgements");
    auto f = std::make_shared<EvalFlags>();
    cmd->add_option("--qrels", f->qrels, "Judgements: TREC qrels or BEIR test.tsv")
        ->required()
        ->type_name("FILE");
    cmd->add_option("--run", f->run, "The run: 'QID Q0 DOCID RANK SCORE TAG' lines")
        ->required()
        ->type_name("FILE");
    cmd->add_option("--metrics", f->metrics, "Comma-separated: ndcg@K, recall@K, mrr@K, map@K, p@K")
        ->type_name("LIST")
        ->check(metric_list());
    cmd->add_flag("--per-query", f->per_query, "Also print each query's figures");
    cmd->add_flag("--dedupe", f->dedupe,
                  "Count a document the run lists twice for a query once, at its higher score "
                  "(without it, such a run is an error)");
    cmd->add_option("--format", f->format, "text (trec_eval's layout) or json")
        ->check(CLI::IsMember({"text", "json"}));
    cmd->footer(
        "Examples:\n"
        "  rk query --batch queries.jsonl --format trec -k 100 > run.trec\n"
        "  rk eval --qrels qrels/test.tsv --run run.trec\n"
        "  rk eval --qrels q.tsv --run run.trec --metrics ndcg@10 --format json | jq .metrics");
    cmd->callback([&ctx, f] { ctx.action = [f] { return run_eval(*f); }; });
}

}  // namespace rk::cli
