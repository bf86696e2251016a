// rk mcp: the Model Context Protocol server on standard input and output.
#include <iostream>

#include "cli.hpp"
#include "rk/serve.hpp"

namespace rk::cli {

void add_mcp(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand(
        "mcp", "Serve the index to AI agents: Model Context Protocol on stdin/stdout");
    cmd->footer(
        "Tools: search, get, stats. Messages are JSON-RPC 2.0, one a line; stdout carries\n"
        "only replies, -v logs each message on stderr.\n"
        "Example (an MCP client's server entry):\n"
        "  {\"command\": \"rk\", \"args\": [\"--index\", \"/home/me/notes/.rk\", \"mcp\"]}");
    cmd->callback([&ctx] {
        ctx.action = [&ctx] {
            std::ios::sync_with_stdio(false);
            serve_mcp(ctx.location().dir, std::cin, std::cout,
                      ctx.verbose > 0 ? &std::cerr : nullptr);
            return kOk;
        };
    });
}

}  // namespace rk::cli
