// rk: parse the command line, run one command, map what happened to an exit code.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <exception>
#include <optional>
#include <string_view>
#include <vector>

#include "cli.hpp"
#include "rk/error.hpp"
#include "rk/version.hpp"

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = up;
        }
    }
    return row[b.size()];
}

// When the first word that is not an option names no command: what to say instead of
// CLI11's message, with the nearest command if one is close.
std::optional<std::string> unknown_command(CLI::App& app, int argc, char** argv) {
    std::string word;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--index" || a == "--color") {
            ++i;
            continue;
        }
        if (a.starts_with("-")) continue;
        word = a;
        break;
    }
    if (word.empty()) return std::nullopt;
    std::string best;
    std::size_t best_distance = 3;  // farther than two edits is no suggestion
    for (const auto* sub : app.get_subcommands({})) {
        if (sub->get_name() == word) return std::nullopt;
        const std::size_t d = edit_distance(word, sub->get_name());
        if (d < best_distance) {
            best_distance = d;
            best = sub->get_name();
        }
    }
    if (best.empty()) return fmt::format("unknown command '{}' (see rk --help)", word);
    return fmt::format("unknown command '{}'; did you mean '{}'?", word, best);
}

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
    rk::cli::add_commands(app, ctx);

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        if (auto hint = unknown_command(app, argc, argv)) {
            ctx.error(*hint);
        } else {
            ctx.error(fmt::format("{} (see rk --help)", e.what()));
        }
        return rk::cli::kError;
    } catch (const rk::Error& e) {
        ctx.error(e.message());
        return rk::cli::kError;
    }

    try {
        rk::cli::apply_config(app, ctx);
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
