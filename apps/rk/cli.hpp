// What every command shares: the global flags, the terminal, and how to open the index.
#pragma once

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "rk/index.hpp"
#include "rk/ingest.hpp"
#include "rk/search.hpp"

namespace rk::cli {

// Exit codes, as DESIGN.md fixes them.
inline constexpr int kOk = 0;
inline constexpr int kNegative = 1;  // no result, a failed gate or verification
inline constexpr int kError = 2;

struct Context {
    std::string index_flag;
    bool quiet = false;
    int verbose = 0;
    std::string color = "auto";
    // Set by the chosen subcommand's parse callback, run by main after parsing.
    std::function<int()> action;

    [[nodiscard]] IndexLocation location() const;
    [[nodiscard]] Index open(Index::Mode mode) const;
    [[nodiscard]] bool color_stdout() const;
    [[nodiscard]] bool color_stderr() const;

    // Messages on stderr: notes (not with -q), warnings and errors (always).
    void note(const std::string& msg) const;
    // Sends the index's notes (a derived file repaired, say) to note().
    void listen(Index& index) const;
    void warn(const std::string& msg) const;
    void error(const std::string& msg) const;
    // An ingest's or import's note, by its level (details only with -v).
    void report(const IngestNote& n) const;
};

// A one-line progress bar on stderr ("ingesting [###   ] 40% ..."), redrawn at most ten
// times a second; without a total (a pipe), the bytes and documents so far.
class ProgressBar {
  public:
    ProgressBar(bool on, std::string verb) : on_(on), verb_(std::move(verb)) {}
    ~ProgressBar() { clear(); }
    ProgressBar(const ProgressBar&) = delete;
    ProgressBar& operator=(const ProgressBar&) = delete;

    void update(const IngestProgress& p);
    void clear();

  private:
    bool on_;
    std::string verb_;
    bool drawn_ = false;
    std::chrono::steady_clock::time_point last_;
};

// "/home/u/docs/a.md" -> "docs/a.md" when under the working directory.
std::string display_path(const std::string& path);

// Thrown when the reader of stdout went away (`rk ls | head`): we stop quietly, as ripgrep does.
struct StdoutClosed {};

// Writes text to stdout; throws StdoutClosed on a closed pipe and Error if stdout is full.
void out(std::string_view text);
void flush_out();

// ANSI styles, applied only when `on`.
std::string style(bool on, std::string_view code, std::string_view text);

std::string human_bytes(std::int64_t n);

// Checks a metric list as rk eval takes it ("ndcg@10,recall@100"), so that a bad one is
// refused where it was given: on the command line or in a configuration file's key.
CLI::Validator metric_list();

// A temporary directory, removed with everything in it when it goes out of scope.
class ScratchDir {
  public:
    ScratchDir();
    ~ScratchDir();
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  private:
    std::filesystem::path path_;
};

// --rm3 and --rm3-params, as `rk query` and `rk bench` take them.
struct Rm3Flags {
    bool on = false;
    std::string params;
    // Unset without either flag; throws UsageError for bad parameters.
    [[nodiscard]] std::optional<Rm3Params> parse() const;
};
void add_rm3_options(CLI::App* cmd, Rm3Flags& flags);
// --rerank URL?model=NAME and --rerank-depth N, as `rk query`, `rk bench`, `rk mcp` and
// `rk serve` take them (the servers: as the default of their search calls).
void add_rerank_options(CLI::App* cmd, std::string& spec, int& depth);

// Fills options not given on the command line from INDEX/config.toml and then from
// ${XDG_CONFIG_HOME:-~/.config}/rk/config.toml (or $RK_CONFIG). Call after parsing.
void apply_config(CLI::App& app, const Context& ctx);

// rk's global options and every command, as `rk` and the configuration's fuzzing target
// both declare them.
void add_commands(CLI::App& app, Context& ctx);

void add_init(CLI::App& app, Context& ctx);
void add_ingest(CLI::App& app, Context& ctx);
void add_get(CLI::App& app, Context& ctx);
void add_ls(CLI::App& app, Context& ctx);
void add_rm(CLI::App& app, Context& ctx);
void add_stats(CLI::App& app, Context& ctx);
void add_index(CLI::App& app, Context& ctx);
void add_query(CLI::App& app, Context& ctx);
void add_eval(CLI::App& app, Context& ctx);
void add_bench(CLI::App& app, Context& ctx);
void add_export(CLI::App& app, Context& ctx);
void add_import(CLI::App& app, Context& ctx);
void add_completions(CLI::App& app, Context& ctx);
void add_mcp(CLI::App& app, Context& ctx);
void add_serve(CLI::App& app, Context& ctx);

}  // namespace rk::cli
