// rk query: one query, or a batch of them, in the output format asked for.
#include <simdjson.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <unordered_set>

#include "cli.hpp"
#include "rk/error.hpp"
#include "rk/eval.hpp"
#include "rk/ids.hpp"
#include "rk/json.hpp"
#include "rk/search.hpp"

namespace rk::cli {

namespace {

struct QueryFlags {
    std::string text;
    std::string mode;  // empty: the index's default
    std::string fusion;
    std::string vector_search = "auto";
    std::string format = "text";
    std::string batch;
    std::vector<std::string> where;
    std::string collection, path;
    std::string bm25;
    Rm3Flags rm3;
    int k = 10;
    int ef = 0;
    std::string rerank;
    int rerank_depth = 50;
    bool chunks = false;
    bool explain = false;
};

// "bm25 #3 12.540 · vector #7 0.412": where each signal placed a hit.
std::string signals(const Hit& h) {
    auto one = [](std::string_view name, const Signal& s) {
        return s.rank > 0 ? fmt::format("{} #{} {:.3f}", name, s.rank, s.score)
                          : fmt::format("{} -", name);
    };
    return one("bm25", h.bm25) + " · " + one("vector", h.vector) +
           (h.rerank ? fmt::format(" · rerank {:.3f}", *h.rerank) : std::string());
}

std::string flat(std::string_view s) {
    std::string out(s);
    for (auto& c : out) {
        if (c == '\t' || c == '\n' || c == '\r') c = ' ';
    }
    return out;
}

// `text` as a Markdown code span: fenced by more backticks than it holds in a row, and padded
// when it starts or ends with one (CommonMark strips one space from each side).
std::string code_span(std::string_view text) {
    std::size_t run = 0, longest = 0;
    for (const char c : text) {
        run = c == '`' ? run + 1 : 0;
        longest = std::max(longest, run);
    }
    const std::string fence(longest + 1, '`');
    const bool pad = !text.empty() && (text.front() == '`' || text.back() == '`');
    return fence + (pad ? " " : "") + std::string(text) + (pad ? " " : "") + fence;
}

// The snippet with its matches marked: coloured on a terminal, **bold** in Markdown.
std::string highlight(const Hit& h, bool color, bool markdown = false) {
    if (!color && !markdown) return h.snippet;
    std::string out;
    std::size_t at = 0;
    for (const auto& [b, e] : h.highlights) {
        out += h.snippet.substr(at, b - at);
        const std::string word = h.snippet.substr(b, e - b);
        out += markdown ? "**" + word + "**" : style(true, "1;31", word);
        at = e;
    }
    return out + h.snippet.substr(at);
}

int run_query(Context& ctx, QueryFlags& f) {
    std::vector<QueryText> inputs;
    const bool batch = !f.batch.empty();
    if (batch) {
        if (!f.text.empty()) throw UsageError("give either TEXT or --batch, not both");
        const std::string name = f.batch == "-" ? "<stdin>" : f.batch;
        inputs = f.batch == "-" ? read_queries(std::cin, name) : read_queries(f.batch);
        // All are checked before any runs, so that a batch fails whole or not at all.
        for (const auto& in : inputs) {
            check_query_length(in.text, fmt::format("{}: query {}", name, escape_id(in.id)));
        }
    } else {
        if (f.text.empty()) throw UsageError("nothing to search for: give TEXT or --batch FILE");
        check_query_length(f.text);
        inputs.push_back({"1", f.text});
    }
    Query q;
    q.k = f.k;
    q.snippets = f.format != "trec" && f.format != "tsv";
    q.chunks = f.chunks;
    q.bm25 = parse_bm25_params(f.bm25);
    if (!f.mode.empty()) q.mode = parse_search_mode(f.mode);
    q.fusion = parse_fusion(f.fusion);
    q.rm3 = f.rm3.parse();
    q.ef = f.ef;
    q.vector_search = parse_vector_search(f.vector_search);
    if (!f.rerank.empty()) q.rerank = f.rerank;
    q.rerank_depth = f.rerank_depth;
    if (!f.collection.empty()) q.collection = f.collection;
    if (!f.path.empty()) q.path_glob = f.path;
    for (const auto& kv : f.where) {
        const auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) {
            throw UsageError(fmt::format("--where wants KEY=VALUE, got '{}'", kv));
        }
        q.where.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }

    const Index index = ctx.open(Index::Mode::read);
    const std::string_view mode = to_string(effective_mode(index, q));
    const bool color = ctx.color_stdout();
    bool any = false;
    JsonWriter all;
    if (f.format == "json" && batch) all.begin_array();
    std::string buf;
    std::unordered_set<std::string> warned;
    for (const auto& in : inputs) {
        q.text = in.text;
        const auto t0 = std::chrono::steady_clock::now();
        SearchStats stats;
        const auto hits = search(index, q, &stats);
        const double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count();
        // A batch says each thing once, not once a query.
        for (const auto& w : stats.warnings) {
            if (warned.insert(w).second) ctx.warn(w);
        }
        if (ctx.verbose > 0) {
            ctx.note(fmt::format(
                "{} results in {:.2f} ms; BM25 passes {}; vector graph searches {}, codes "
                "scored {}, chunks re-scored {}",
                hits.size(), ms, stats.bm25_rounds, stats.graph_searches, stats.codes_scored,
                stats.rescored));
        }
        any = any || !hits.empty();
        if (f.format == "json") {
            JsonWriter& w = all;
            w.begin_object();
            if (batch) w.key("qid").value(in.id);
            w.key("query").value(in.text).key("mode").value(mode).key("took_ms").value(ms);
            w.key("results").begin_array();
            int rank = 0;
            for (const auto& h : hits) {
                w.begin_object();
                write_hit(w, h, ++rank, f.explain);
                w.end_object();
            }
            w.end_array();
            if (f.explain) {
                w.key("stats")
                    .begin_object()
                    .key("bm25_rounds")
                    .value(stats.bm25_rounds)
                    .key("graph_searches")
                    .value(stats.graph_searches)
                    .key("codes_scored")
                    .value(stats.codes_scored)
                    .key("rescored")
                    .value(stats.rescored)
                    .end_object();
            }
            w.end_object();
            continue;
        }
        int rank = 0, run_rank = 0;
        std::unordered_set<std::string> in_run;  // --chunks --format trec: documents written
        for (const auto& h : hits) {
            ++rank;
            if (f.format == "markdown") {
                if (rank == 1) buf += fmt::format("# {}\n\n", flat(in.text));
                const std::string where =
                    escape_id(h.source.empty() || h.id != h.source ? h.id : display_path(h.source));
                buf += fmt::format("{}. **{}** ({:.3f})  \n   {}{}\n\n   > {}\n\n", rank,
                                   h.title.empty() ? escape_id(h.id) : flat(h.title), h.score,
                                   code_span(where),
                                   h.heading.empty() ? std::string() : " — " + flat(h.heading),
                                   highlight(h, false, true));
            } else if (f.format == "trec") {
                // A run names each document once (rk eval and trec_eval refuse repeats), so
                // with --chunks a document's best chunk stands for it: the run is scored
                // against judgements of documents, which is what datasets judge.
                if (q.chunks && !in_run.insert(h.id).second) continue;
                buf += fmt::format("{} Q0 {} {} {:.6f} rk\n", escape_id(in.id, true),
                                   escape_id(h.id, true), ++run_rank, h.score);
            } else if (f.format == "tsv") {
                buf += fmt::format("{}\t{}\t{:.4f}\t{}\t{}\n", escape_id(in.id), rank, h.score,
                                   escape_id(h.id), flat(h.title));
            } else if (f.format == "jsonl") {
                JsonWriter w;
                w.begin_object();
                if (batch) w.key("qid").value(in.id);
                w.key("query").value(in.text);
                write_hit(w, h, rank, f.explain);
                w.end_object();
                buf += w.str();
                buf += '\n';
            } else {
                // Files are named by their path; records by their id.
                const std::string where =
                    escape_id(h.source.empty() || h.id != h.source ? h.id
                                                                   : display_path(h.source)) +
                    (q.chunks ? fmt::format("#{}", h.chunk) : std::string()) +
                    (h.heading.empty() ? std::string() : " > " + flat(h.heading));
                if (batch && rank == 1) buf += fmt::format("{}\n", style(color, "1", in.text));
                buf += fmt::format(
                    "{:>2}. {}  {}\n    {}\n    {}\n", rank,
                    style(color, "1", h.title.empty() ? escape_id(h.id) : flat(h.title)),
                    style(color, "2", fmt::format("{:.3f}", h.score)), style(color, "36", where),
                    highlight(h, color));
                if (f.explain) buf += fmt::format("    {}\n", style(color, "2", signals(h)));
            }
        }
        if (buf.size() > (1U << 16)) {
            out(buf);
            buf.clear();
        }
    }
    if (f.format == "json") {
        if (batch) all.end_array();
        out(all.str() + "\n");
    }
    out(buf);
    return any ? kOk : kNegative;
}

}  // namespace

void add_query(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("query", "Search the index");
    auto f = std::make_shared<QueryFlags>();
    cmd->add_option("TEXT", f->text,
                    "Words, \"quoted phrases\", -excluded words, prefix*; the rest is literal");
    cmd->add_option("-k", f->k, "How many results")->type_name("N")->check(CLI::Range(1, 100000));
    cmd->add_option("--mode", f->mode,
                    "Ranking: hybrid (BM25 and vectors fused; the default), bm25 (the default "
                    "without vectors) or vector")
        ->check(CLI::IsMember({"bm25", "vector", "hybrid"}));
    cmd->add_option("--fusion", f->fusion,
                    "How hybrid fuses: minmax (the default), rrf or weighted; k=80 (rrf), bm25=W, "
                    "vector=W (default 1 and 0.4 with minmax, 2 and 1 otherwise), comma-separated")
        ->type_name("LIST");
    cmd->add_flag("--explain", f->explain, "Show each signal's rank and score for every result");
    cmd->add_option("--ef", f->ef,
                    "HNSW search breadth (at least twice the candidates wanted; more is slower, "
                    "surer)")
        ->type_name("N")
        ->default_str(std::to_string(kDefaultEf))
        ->check(CLI::Range(1, 100000));
    cmd->add_option("--vector-search", f->vector_search,
                    "auto (exact over a few thousand vectors, else HNSW), exact or hnsw")
        ->check(CLI::IsMember({"auto", "exact", "hnsw"}));
    cmd->add_flag("--chunks", f->chunks, "One result per matching chunk, not per document");
    cmd->add_option("--collection", f->collection, "Only this collection")->type_name("NAME");
    cmd->add_option("--where", f->where, "Only documents whose metadata KEY is VALUE")
        ->type_name("KEY=VALUE")
        ->allow_extra_args(false);
    cmd->add_option("--path", f->path, "Only documents whose path or id matches GLOB")
        ->type_name("GLOB");
    cmd->add_option("--format", f->format, "text, json, jsonl, tsv, trec or markdown")
        ->check(CLI::IsMember({"text", "json", "jsonl", "tsv", "trec", "markdown"}));
    cmd->add_option("--batch", f->batch,
                    "Queries from FILE (or - for stdin): one a line, or JSONL with _id and text")
        ->type_name("FILE");
    cmd->add_option("--bm25", f->bm25,
                    "BM25 parameters, any of k1=1.2,b=0.7,title=2,heading=1.5,body=1")
        ->type_name("LIST");
    add_rm3_options(cmd, f->rm3);
    add_rerank_options(cmd, f->rerank, f->rerank_depth);
    cmd->footer(
        "Exit status: 0 if something was found, 1 if nothing was, 2 on error.\n"
        "Examples:\n"
        "  rk query 'retry backoff'\n"
        "  rk query '\"exact phrase\" -draft' --format json | jq '.results[].id'\n"
        "  rk query --batch queries.jsonl --format trec -k 100 > run.trec");
    cmd->callback([&ctx, f] { ctx.action = [&ctx, f] { return run_query(ctx, *f); }; });
}

}  // namespace rk::cli
