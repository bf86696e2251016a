// rk serve: the HTTP JSON API on loopback.
#include <iostream>

#include "cli.hpp"
#include "rk/serve.hpp"

namespace rk::cli {

void add_serve(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("serve", "Serve the index over HTTP as a JSON API");
    auto opt = std::make_shared<HttpOptions>();
    cmd->add_option("--port", opt->port, "TCP port; 0 picks a free one (printed on stderr)")
        ->type_name("N")
        ->check(CLI::Range(0, 65535));
    cmd->add_option("--host", opt->host, "Address to listen on (non-loopback exposes the index)")
        ->type_name("ADDR");
    cmd->add_option("--threads", opt->threads, "Worker threads, each with its own connection")
        ->type_name("N")
        ->check(CLI::Range(1, 256));
    cmd->add_option("--max-body", opt->max_body, "Largest request body in bytes (else 413)")
        ->type_name("BYTES")
        ->check(CLI::Range(std::size_t{1024}, std::size_t{1} << 30));
    cmd->add_option("--timeout", opt->timeout_s, "Seconds to read a request or write a reply")
        ->type_name("S")
        ->check(CLI::Range(1, 3600));
    auto rerank = std::make_shared<std::string>();
    add_rerank_options(cmd, *rerank, opt->search.rerank_depth);
    cmd->footer(
        "Endpoints: GET /health, GET /search?q=..., POST /search, GET /docs/ID, GET /stats.\n"
        "Stops cleanly on SIGINT or SIGTERM.\n"
        "Examples:\n"
        "  rk serve --port 7700 &\n"
        "  curl -s 'http://127.0.0.1:7700/search?q=retry+backoff&k=3' | jq '.results[].id'");
    cmd->callback([&ctx, opt, rerank] {
        ctx.action = [&ctx, opt, rerank] {
            if (!rerank->empty()) opt->search.rerank = *rerank;
            if (ctx.verbose > 0) opt->log = &std::cerr;
            if (opt->host != "localhost" && opt->host != "::1" && !opt->host.starts_with("127.")) {
                ctx.warn(fmt::format("listening on {}: anyone who can reach it can read the index",
                                     opt->host));
            }
            serve_http(ctx.location().dir, *opt, [](const std::string& url) {
                // Said even with -q: a caller of --port 0 needs the port.
                fmt::print(stderr, "rk: serving on {}\n", url);
                (void)std::fflush(stderr);
            });
            ctx.note("stopped");
            return kOk;
        };
    });
}

}  // namespace rk::cli
