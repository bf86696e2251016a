#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <optional>

#include "cli.hpp"
#include "rk/error.hpp"
#include "rk/ingest.hpp"
#include "rk/json.hpp"

namespace rk::cli {

namespace {

struct IngestFlags {
    IngestOptions o;
    std::vector<std::string> meta;
    bool stdin_paths = false;
    bool null_separated = false;
    bool json = false;
};

std::string read_all_stdin() {
    std::string data{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
    if (std::cin.bad()) throw InputError("cannot read standard input");
    return data;
}

std::vector<std::string> split_paths(const std::string& data, char sep) {
    std::vector<std::string> paths;
    std::size_t pos = 0;
    while (pos < data.size()) {
        std::size_t end = data.find(sep, pos);
        if (end == std::string::npos) end = data.size();
        std::string p = data.substr(pos, end - pos);
        if (sep == '\n' && !p.empty() && p.back() == '\r') p.pop_back();
        if (!p.empty()) paths.push_back(std::move(p));
        pos = end + 1;
    }
    return paths;
}

std::string summary_json(const IngestReport& r, const std::string& index, bool dry_run) {
    JsonWriter w;
    w.begin_object()
        .key("index")
        .value(index)
        .key("dry_run")
        .value(dry_run)
        .key("added")
        .value(r.added)
        .key("updated")
        .value(r.updated)
        .key("unchanged")
        .value(r.unchanged)
        .key("skipped")
        .value(r.skipped)
        .key("failed")
        .value(r.failed)
        .key("pruned")
        .value(r.pruned)
        .key("chunks")
        .value(r.chunks)
        .key("vectors_reused")
        .value(r.vectors_reused)
        .key("bytes")
        .value(r.bytes)
        .key("seconds")
        .value(r.seconds)
        .end_object();
    return w.take() + "\n";
}

int run_ingest(Context& ctx, IngestFlags& f) {
    auto& o = f.o;
    for (const auto& kv : f.meta) {
        const auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) {
            throw UsageError(fmt::format("--meta wants KEY=VALUE, got '{}'", kv));
        }
        o.meta.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
    const bool dash = std::find(o.paths.begin(), o.paths.end(), "-") != o.paths.end();
    if (f.stdin_paths) {
        if (dash) throw UsageError("'-' and --stdin-paths both want standard input");
        auto more = split_paths(read_all_stdin(), f.null_separated ? '\0' : '\n');
        o.paths.insert(o.paths.end(), more.begin(), more.end());
        if (o.paths.empty()) {
            ctx.note("no paths on standard input; nothing to do");
            return kOk;
        }
    } else if (o.paths.empty()) {
        throw UsageError("nothing to ingest: give files, directories, globs, '-' or --stdin-paths");
    }
    if (dash) o.stdin_data = read_all_stdin();

    // Say so before an index is created for nothing.
    if (!o.recursive) {
        for (const auto& p : o.paths) {
            std::error_code ec;
            if (p != "-" && std::filesystem::is_directory(p, ec)) {
                throw UsageError(
                    fmt::format("{} is a directory; use -r to ingest the files under it", p));
            }
        }
    }

    const IndexLocation loc = ctx.location();
    bool created = false;
    std::optional<ScratchDir> scratch;
    Index index = [&] {
        std::error_code ec;
        if (o.dry_run && !std::filesystem::exists(loc.dir / "rk.db", ec)) {
            // A dry run against an index that does not exist yet: compare with an empty one.
            scratch.emplace();
            ctx.note(fmt::format("no index at {} yet; showing what a new one would get",
                                 loc.dir.string()));
            return Index::create(scratch->path() / "index", Settings{});
        }
        if (o.dry_run) return Index::open(loc.dir, Index::Mode::write);
        return Index::open_or_create(loc.dir, Settings{}, &created);
    }();
    if (created) ctx.note(fmt::format("created index {}", index.dir().string()));
    ctx.listen(index);

    ProgressBar bar(!ctx.quiet && !o.dry_run && ::isatty(STDERR_FILENO) != 0, "ingesting");
    IngestCallbacks cb;
    cb.progress = [&](const IngestProgress& p) { bar.update(p); };
    cb.note = [&](const IngestNote& n) {
        bar.clear();
        ctx.report(n);
    };
    if (o.dry_run || ctx.verbose > 0) {
        cb.item = [&](std::string_view action, std::string_view id) {
            if (action == "unchanged" && ctx.verbose < 2 && o.dry_run) return;
            if (o.dry_run) {
                out(fmt::format("{}\t{}\n", action, id));
            } else if (action != "unchanged" || ctx.verbose > 1) {
                bar.clear();
                fmt::print(stderr, "{} {}\n", action, id);
            }
        };
    }
    const IngestReport r = ingest(index, o, cb);
    bar.clear();

    if (f.json) out(summary_json(r, index.dir().string(), o.dry_run));
    if (!ctx.quiet) {
        const std::int64_t docs = r.added + r.updated + r.unchanged;
        fmt::print(
            stderr,
            "{}added {}, updated {}, unchanged {}, skipped {}, failed {}{}; {} chunks{} "
            "from {} in {:.2f} s ({:.0f} documents/s)\n",
            o.dry_run ? "dry run: would have " : "", r.added, r.updated, r.unchanged, r.skipped,
            r.failed, o.prune ? fmt::format(", pruned {}", r.pruned) : "", r.chunks,
            r.vectors_reused > 0 ? fmt::format(" ({} kept their vectors)", r.vectors_reused) : "",
            human_bytes(r.bytes), r.seconds,
            r.seconds > 0 ? static_cast<double>(docs) / r.seconds : 0.0);
    }
    if (r.failed > 0) {
        ctx.error(fmt::format("{} input{} could not be ingested (see above); the rest was",
                              r.failed, r.failed == 1 ? "" : "s"));
        return kError;
    }
    return kOk;
}

}  // namespace

void add_ingest(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("ingest", "Add or update documents from files, globs or stdin");
    auto f = std::make_shared<IngestFlags>();
    cmd->add_option("PATH", f->o.paths, "Files, directories (with -r), globs, or - for stdin");
    cmd->add_flag("-r,--recursive", f->o.recursive, "Walk directories");
    cmd->add_flag("--stdin-paths", f->stdin_paths, "Read paths to ingest from stdin, one a line");
    cmd->add_flag("-0,--null", f->null_separated, "With --stdin-paths: paths end in NUL");
    cmd->add_option("--include", f->o.include, "Only walked files matching GLOB (repeatable)")
        ->type_name("GLOB")
        ->allow_extra_args(false);
    cmd->add_option("--exclude", f->o.exclude, "Skip files and directories matching GLOB")
        ->type_name("GLOB")
        ->allow_extra_args(false);
    cmd->add_flag("--hidden", f->o.hidden, "Walk hidden files and directories too (.git never)");
    cmd->add_option("--encoding", f->o.encoding,
                    "Text encoding of files without a byte order mark (latin1, SHIFT_JIS...); "
                    "default: UTF-8, or detected when a file is not")
        ->type_name("NAME");
    cmd->add_flag_function(
        "--no-ignore", [f](std::int64_t) { f->o.ignore_rules = false; },
        "Walk what .gitignore, .ignore and .rkignore files ignore too");
    cmd->add_option("--collection", f->o.collection, "Collection the documents belong to")
        ->type_name("NAME");
    cmd->add_option("--meta", f->meta, "Metadata for every document (repeatable)")
        ->type_name("KEY=VALUE")
        ->allow_extra_args(false);
    cmd->add_option("--id-field", f->o.id_field, "JSON/JSONL field holding the id");
    cmd->add_option("--title-field", f->o.title_field, "JSON/JSONL field holding the title");
    cmd->add_option("--text-field", f->o.text_field, "JSON/JSONL field holding the text");
    cmd->add_flag("-n,--dry-run", f->o.dry_run,
                  "Print what would change (ACTION<TAB>ID), change nothing");
    cmd->add_flag("--prune", f->o.prune,
                  "Remove documents whose files are gone or no longer hold them");
    cmd->add_option("-j,--jobs", f->o.jobs, "Worker threads (0: one per core)")->type_name("N");
    cmd->add_flag("--json", f->json, "Print the summary as JSON on stdout");
    cmd->footer(
        "Formats, by name or first bytes: text, Markdown, HTML, PDF, DOCX, ODT, EPUB, man pages,\n"
        "source code (cut at definitions), JSON and JSONL records, any of them gzipped (.gz).\n"
        "Walks skip what .gitignore, .ignore and .rkignore ignore (--no-ignore). See "
        "rk-ingest(1).\n"
        "\n"
        "Examples:\n"
        "  rk ingest -r ~/notes --include '*.md'\n"
        "  rk ingest -r .                     # a checkout, as git sees it\n"
        "  rk ingest corpus.jsonl --collection scifact\n"
        "  git ls-files '*.md' | rk ingest --stdin-paths\n"
        "  echo 'a note' | rk ingest -");
    cmd->callback([&ctx, f] { ctx.action = [&ctx, f] { return run_ingest(ctx, *f); }; });
}

}  // namespace rk::cli
