// rk's configuration files (TOML, apps/rk/config.cpp): parsed by toml++, then each key
// applied to rk's real options as a command line would set them. The first byte picks the
// command whose section applies; the rest is the file, given as $RK_CONFIG.
#include <array>
#include <cstdlib>
#include <vector>

#include "cli.hpp"
#include "rk/error.hpp"
#include "scratch_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // Command lines that parse, each with a section of its own in a config file.
    static const std::array<std::vector<const char*>, 10> kCommands = {{
        {"query", "retry"},
        {"ingest", "-"},
        {"eval", "--qrels", "q", "--run", "r"},
        {"bench", "dataset"},
        {"ls"},
        {"serve"},
        {"mcp"},
        {"stats"},
        {"export"},
        {"import", "-"},
    }};
    static rk::fuzz::ScratchFile config("config.toml");
    // No index's config.toml: --index names a directory that holds none.
    static const std::string no_index = (config.path().string() + ".d");
    if (size == 0) return 0;
    config.write(data + 1, size - 1);
    setenv("RK_CONFIG", config.path().c_str(), 1);  // NOLINT(concurrency-mt-unsafe)

    rk::cli::Context ctx;
    CLI::App app{"rk", "rk"};
    app.require_subcommand(1);
    app.option_defaults()->always_capture_default();
    rk::cli::add_commands(app, ctx);

    const auto& command = kCommands[data[0] % kCommands.size()];
    std::vector<const char*> argv = {"rk", "--index", no_index.c_str()};
    argv.insert(argv.end(), command.begin(), command.end());
    app.parse(static_cast<int>(argv.size()), const_cast<char**>(argv.data()));  // NOLINT
    try {
        rk::cli::apply_config(app, ctx);
    } catch (const rk::InputError&) {
        // What a bad file gets: an error naming the file and key.
    }
    return 0;
}
