// rk mcp: the Model Context Protocol server on standard input and output.
#include <iostream>

#include "cli.hpp"
#include "rk/serve.hpp"

namespace rk::cli {

void add_mcp(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand(
        "mcp", "Serve the index to AI agents: Model Context Protocol on stdin/stdout");
    auto defaults = std::make_shared<SearchDefaults>();
    auto rerank = std::make_shared<std::string>();
    add_rerank_options(cmd, *rerank, defaults->rerank_depth);
    cmd->footer(
        "Tools: search, get, stats. Messages are JSON-RPC 2.0, one a line; stdout carries\n"
        "only replies, -v logs each message on stderr.\n"
        "Example (an MCP client's server entry):\n"
        "  {\"command\": \"rk\", \"args\": [\"--index\", \"/home/me/notes/.rk\", \"mcp\"]}");
    cmd->callback([&ctx, defaults, rerank] {
        ctx.action = [&ctx, defaults, rerank] {
            std::ios::sync_with_stdio(false);
            if (!rerank->empty()) defaults->rerank = *rerank;
            serve_mcp(ctx.location().dir, std::cin, std::cout,
                      ctx.verbose > 0 ? &std::cerr : nullptr, *defaults);
            return kOk;
        };
    });
}

}  // namespace rk::cli
