// rk: parse the command line, run one command, map what happened to an exit code.
#include <csignal>
#include <cstdio>
#include <exception>

#include "cli.hpp"
#include "rk/error.hpp"
#include "rk/version.hpp"

namespace {

int run(int argc, char** argv) {
    // A closed pipe (`rk ls | head`) should end us quietly through a write error, not a signal.
    (void)std::signal(SIGPIPE, SIG_IGN);
    rk::cli::Context ctx;
    CLI::App app{"rk: local retrieval for the shell — ingest documents, search them, measure it.",
                 "rk"};
    app.footer(
        "Examples:\n"
        "  rk init                      create ./.rk\n"
        "  rk ingest -r docs            add every file under docs/\n"
        "  rk ls --collection notes     list documents\n"
        "  rk get README.md             print a stored document\n"
        "\n"
        "Run 'rk COMMAND --help' for a command's flags, 'man rk' for the manual.");
    app.set_version_flag("--version", std::string("rk ") + std::string(rk::version()));
    app.require_subcommand(1);
    app.option_defaults()->always_capture_default();
    app.add_option("--index", ctx.index_flag,
                   "Index directory (default: $RK_INDEX, ./.rk or a "
                   "parent's, else ~/.local/share/rk/default)")
        ->type_name("DIR");
    app.add_flag("-q,--quiet", ctx.quiet, "Print no progress, notes or summaries");
    app.add_flag("-v,--verbose", ctx.verbose, "Say more (repeat for even more)");
    app.add_option("--color", ctx.color, "Colour: auto, always or never (NO_COLOR honoured)")
        ->check(CLI::IsMember({"auto", "always", "never"}))
        ->type_name("WHEN");

    rk::cli::add_init(app, ctx);
    rk::cli::add_ingest(app, ctx);
    rk::cli::add_query(app, ctx);
    rk::cli::add_get(app, ctx);
    rk::cli::add_ls(app, ctx);
    rk::cli::add_rm(app, ctx);
    rk::cli::add_stats(app, ctx);
    rk::cli::add_index(app, ctx);
    rk::cli::add_eval(app, ctx);
    rk::cli::add_bench(app, ctx);
    for (auto* sub : app.get_subcommands({})) sub->fallthrough();

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        ctx.error(fmt::format("{} (see rk --help)", e.what()));
        return rk::cli::kError;
    } catch (const rk::Error& e) {
        ctx.error(e.message());
        return rk::cli::kError;
    }

    try {
        const int code = ctx.action ? ctx.action() : rk::cli::kError;
        rk::cli::flush_out();
        return code;
    } catch (const rk::cli::StdoutClosed&) {
        return rk::cli::kOk;
    } catch (const rk::Error& e) {
        ctx.error(e.message());
    } catch (const std::bad_alloc&) {
        ctx.error("out of memory");
    } catch (const std::exception& e) {
        ctx.error(fmt::format("internal error: {}", e.what()));
    }
    return rk::cli::kError;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (...) {
        // Only reached if reporting an error failed too.
        return rk::cli::kError;
    }
}
