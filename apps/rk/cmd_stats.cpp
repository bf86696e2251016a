// rk stats and rk index: the state of an index, and keeping it healthy.
#include "cli.hpp"
#include "rk/error.hpp"
#include "rk/json.hpp"

namespace rk::cli {

namespace {

int run_stats(Context& ctx, bool json) {
    const Index index = ctx.open(Index::Mode::read);
    const Stats s = index.stats();
    if (json) {
        out(stats_json(index) + "\n");
        return kOk;
    }
    std::string t;
    t += fmt::format("index        {}\n", index.dir().string());
    t += fmt::format("documents    {}\n", s.documents);
    t += fmt::format("chunks       {}\n", s.chunks);
    t += fmt::format("text         {}\n", human_bytes(s.text_bytes));
    t += fmt::format("on disk      {} (+ {} write-ahead log)\n",
                     human_bytes(s.db_bytes + s.graph_bytes + s.posting_file_bytes),
                     human_bytes(s.wal_bytes));
    t += fmt::format("settings     embedder {}, tokenizer {}, chunks {} tokens (overlap {})\n",
                     s.settings.embedder, s.settings.tokenizer, s.settings.chunk_size,
                     s.settings.chunk_overlap);
    t += fmt::format(
        "postings     {} segment{} (files {}), {} removed chunk{} not yet merged away\n",
        s.posting_segments, s.posting_segments == 1 ? "" : "s", human_bytes(s.posting_file_bytes),
        s.dead_chunks, s.dead_chunks == 1 ? "" : "s");
    if (s.dimension == 0) {
        t += "vectors      none (embedder none)\n";
    } else {
        const auto per = [&](std::int64_t bytes) {
            return s.vectors > 0 ? human_bytes(bytes / s.vectors) : std::string("-");
        };
        t += fmt::format(
            "vectors      {}, {} dimensions: {} a chunk in rk.db; graph {} (vectors.hnsw, {} a "
            "chunk)\n",
            s.vectors, s.dimension, human_bytes(s.vector_bytes), human_bytes(s.graph_bytes),
            per(s.graph_bytes));
    }
    t += fmt::format("schema       version {}\n", s.schema_version);
    for (const auto& [name, n] : s.collections) {
        t += fmt::format("collection   {} ({} documents)\n", name, n);
    }
    out(t);
    return kOk;
}

}  // namespace

void add_stats(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("stats", "Counts, sizes and settings of the index");
    auto json = std::make_shared<bool>(false);
    cmd->add_flag("--json", *json, "Print as JSON");
    cmd->footer("Example:\n  rk stats --json | jq .documents");
    cmd->callback([&ctx, json] { ctx.action = [&ctx, json] { return run_stats(ctx, *json); }; });
}

void add_index(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("index", "Verify, rebuild or optimize the index");
    cmd->require_subcommand(1);
    cmd->footer("Examples:\n  rk index verify && echo healthy\n  rk index optimize");
    auto* verify = cmd->add_subcommand(
        "verify", "Check SQLite, full-text and chunk consistency; exit 1 on any problem");
    verify->callback([&ctx] {
        ctx.action = [&ctx] {
            const Index index = ctx.open(Index::Mode::read);
            const Health h = index.verify();
            for (const auto& p : h.problems) out(fmt::format("problem: {}\n", p));
            for (const auto& u : h.unchecked) ctx.note(fmt::format("not checked: {}", u));
            if (!h.ok) return kNegative;
            ctx.note(fmt::format("{}: ok", index.dir().string()));
            return kOk;
        };
    });
    auto* rebuild =
        cmd->add_subcommand("rebuild", "Rebuild the derived structures from the stored chunks");
    auto reembed = std::make_shared<bool>(false);
    rebuild->add_flag("--vectors", *reembed,
                      "Embed every chunk again, also with a model or a service (whose vectors are "
                      "kept otherwise)");
    rebuild->callback([&ctx, reembed] {
        ctx.action = [&ctx, reembed] {
            Index index = ctx.open(Index::Mode::write);
            index.rebuild(*reembed);
            ctx.note(*reembed ? "rebuilt the full-text index and the vectors"
                              : "rebuilt the full-text index");
            return kOk;
        };
    });
    auto* optimize = cmd->add_subcommand("optimize", "Merge the full-text index and compact");
    optimize->callback([&ctx] {
        ctx.action = [&ctx] {
            Index index = ctx.open(Index::Mode::write);
            index.optimize();
            ctx.note("optimized");
            return kOk;
        };
    });
    verify->footer("Exit status: 0 when healthy, 1 when a problem was found, 2 on error.");
    rebuild->footer("Example:\n  rk index rebuild");
    optimize->footer("Example:\n  rk index optimize");
    for (auto* sub : {verify, rebuild, optimize}) sub->fallthrough();
}

}  // namespace rk::cli
