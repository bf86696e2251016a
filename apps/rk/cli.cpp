#include "cli.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include "rk/error.hpp"
#include "rk/eval.hpp"

namespace fs = std::filesystem;

namespace rk::cli {

namespace {

bool env_set(const char* name) {
    const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): single-threaded here
    return v != nullptr && *v != '\0';
}

bool want_color(const std::string& mode, int fd) {
    if (mode == "always") return true;
    if (mode == "never") return false;
    if (env_set("NO_COLOR")) return false;
    if (env_set("CLICOLOR_FORCE")) {
        const char* v = std::getenv("CLICOLOR_FORCE");  // NOLINT(concurrency-mt-unsafe)
        if (std::string_view(v) != "0") return true;
    }
    const char* term = std::getenv("TERM");  // NOLINT(concurrency-mt-unsafe)
    if (term != nullptr && std::string_view(term) == "dumb") return false;
    return ::isatty(fd) != 0;
}

}  // namespace

IndexLocation Context::location() const {
    return resolve_index(index_flag.empty() ? std::nullopt
                                            : std::optional<fs::path>(fs::path(index_flag)));
}

Index Context::open(Index::Mode mode) const {
    Index index = Index::open(location().dir, mode);
    listen(index);
    return index;
}

void Context::listen(Index& index) const {
    index.set_notes([this](const std::string& msg) { note(msg); });
}

bool Context::color_stdout() const {
    return want_color(color, STDOUT_FILENO);
}
bool Context::color_stderr() const {
    return want_color(color, STDERR_FILENO);
}

void Context::note(const std::string& msg) const {
    if (!quiet) fmt::print(stderr, "rk: {}\n", msg);
}
void Context::warn(const std::string& msg) const {
    fmt::print(stderr, "rk: {} {}\n", style(color_stderr(), "33", "warning:"), msg);
}
void Context::error(const std::string& msg) const {
    fmt::print(stderr, "rk: {} {}\n", style(color_stderr(), "31", "error:"), msg);
}

void Context::report(const IngestNote& n) const {
    const std::string msg = n.where.empty() ? n.what : display_path(n.where) + ": " + n.what;
    switch (n.level) {
        case IngestNote::Level::detail:
            if (verbose > 0) note(msg);
            break;
        case IngestNote::Level::info:
            note(msg);
            break;
        case IngestNote::Level::warning:
            warn(msg);
            break;
        case IngestNote::Level::error:
            error(msg);
            break;
    }
}

void ProgressBar::update(const IngestProgress& p) {
    if (!on_) return;
    const auto now = std::chrono::steady_clock::now();
    if (drawn_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    drawn_ = true;
    if (p.bytes_total <= 0) {
        fmt::print(stderr, "\r\x1b[K{}  {}  {} documents", verb_, human_bytes(p.bytes_done),
                   p.documents);
        return;
    }
    const double frac =
        std::min(1.0, static_cast<double>(p.bytes_done) / static_cast<double>(p.bytes_total));
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(frac * kWidth);
    fmt::print(stderr, "\r\x1b[K{} [{}{}] {:3.0f}%  {} / {}  {} documents", verb_,
               std::string(static_cast<std::size_t>(filled), '#'),
               std::string(static_cast<std::size_t>(kWidth - filled), ' '), frac * 100,
               human_bytes(p.bytes_done), human_bytes(p.bytes_total), p.documents);
}

void ProgressBar::clear() {
    if (on_ && drawn_) fmt::print(stderr, "\r\x1b[K");
    drawn_ = false;
}

std::string display_path(const std::string& path) {
    if (path.empty() || path[0] != '/') return path;
    std::error_code ec;
    const fs::path cwd = fs::current_path(ec);
    if (ec) return path;
    const std::string base = cwd.string();
    if (path.size() > base.size() + 1 && path.starts_with(base) && path[base.size()] == '/') {
        return path.substr(base.size() + 1);
    }
    return path;
}

namespace {

[[noreturn]] void write_failed() {
    if (errno == EPIPE) throw StdoutClosed{};
    throw Error(fmt::format("cannot write to standard output: {}",
                            std::error_code(errno, std::generic_category()).message()));
}

}  // namespace

void out(std::string_view text) {
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size()) write_failed();
}

void flush_out() {
    if (std::fflush(stdout) != 0) write_failed();
}

std::string style(bool on, std::string_view code, std::string_view text) {
    if (!on) return std::string(text);
    return fmt::format("\x1b[{}m{}\x1b[0m", code, text);
}

CLI::Validator metric_list() {
    return {[](std::string& text) -> std::string {
                try {
                    (void)parse_metrics(text);
                    return {};
                } catch (const UsageError& e) {
                    return e.message();
                }
            },
            "LIST"};
}

std::string human_bytes(std::int64_t n) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    auto v = static_cast<double>(n);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    return u == 0 ? fmt::format("{} B", n) : fmt::format("{:.1f} {}", v, units[u]);
}

ScratchDir::ScratchDir() {
    std::string tmpl = (fs::temp_directory_path() / "rk-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw Error("cannot create a temporary directory");
    path_ = tmpl;
}

ScratchDir::~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
}

std::optional<Rm3Params> Rm3Flags::parse() const {
    if (!on && params.empty()) return std::nullopt;
    return parse_rm3_params(params);
}

void add_rm3_options(CLI::App* cmd, Rm3Flags& flags) {
    cmd->add_flag("--rm3", flags.on,
                  "Expand the query with words of the best BM25 results (RM3 feedback)");
    cmd->add_option("--rm3-params", flags.params,
                    "RM3's parameters (implies --rm3), any of docs=10,terms=10,original=0.5,"
                    "max_df=0.1")
        ->type_name("LIST");
}

void add_rerank_options(CLI::App* cmd, std::string& spec, int& depth) {
    cmd->add_option("--rerank", spec,
                    "Reorder the best results by a reranking service: its endpoint's URL and "
                    "options (model=NAME, key_env=VAR, timeout=S, retries=N)")
        ->type_name("URL?model=NAME");
    cmd->add_option("--rerank-depth", depth, "How many of the best results the reranker sees")
        ->type_name("N")
        ->default_str("50")
        ->check(CLI::Range(1, 1000));
}

void add_commands(CLI::App& app, Context& ctx) {
    app.add_option("--index", ctx.index_flag,
                   "Index directory (default: $RK_INDEX, ./.rk or a "
                   "parent's, else ~/.local/share/rk/default)")
        ->type_name("DIR");
    app.add_flag("-q,--quiet", ctx.quiet, "Print no progress, notes or summaries");
    app.add_flag("-v,--verbose", ctx.verbose, "Say more (repeat for even more)");
    app.add_option("--color", ctx.color, "Colour: auto, always or never (NO_COLOR honoured)")
        ->check(CLI::IsMember({"auto", "always", "never"}))
        ->type_name("WHEN");

    add_init(app, ctx);
    add_ingest(app, ctx);
    add_query(app, ctx);
    add_get(app, ctx);
    add_ls(app, ctx);
    add_rm(app, ctx);
    add_stats(app, ctx);
    add_index(app, ctx);
    add_export(app, ctx);
    add_import(app, ctx);
    add_eval(app, ctx);
    add_bench(app, ctx);
    add_mcp(app, ctx);
    add_serve(app, ctx);
    add_completions(app, ctx);
    for (auto* sub : app.get_subcommands({})) sub->fallthrough();
}

}  // namespace rk::cli
