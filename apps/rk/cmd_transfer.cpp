// rk export and rk import: an index's documents as JSONL, and such a file read back.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <iostream>
#include <system_error>

#include "cli.hpp"
#include "rk/error.hpp"
#include "rk/json.hpp"
#include "rk/transfer.hpp"

namespace fs = std::filesystem;

namespace rk::cli {

namespace {

std::string errno_text() {
    return std::error_code(errno, std::generic_category()).message();
}

// A file written under a temporary name beside it and renamed into place when complete, so
// that nobody ever sees half an export under its name, and a failed one leaves what was there.
class ReplacingFile {
  public:
    explicit ReplacingFile(fs::path target) : target_(std::move(target)) {
        std::string tmpl = target_.string() + ".tmp-XXXXXX";
        fd_ = ::mkstemp(tmpl.data());
        if (fd_ < 0) throw Error(fmt::format("cannot create a file: {}", errno_text()), tmpl);
        tmp_ = tmpl;
        // mkstemp makes it private; a new file gets the mode the umask gives any other.
        const mode_t mask = ::umask(0);
        ::umask(mask);
        (void)::fchmod(fd_, 0666 & ~mask);
    }
    ~ReplacingFile() {
        if (fd_ >= 0) ::close(fd_);
        if (!tmp_.empty()) {
            std::error_code ec;
            fs::remove(tmp_, ec);
        }
    }
    ReplacingFile(const ReplacingFile&) = delete;
    ReplacingFile& operator=(const ReplacingFile&) = delete;

    void write(std::string_view data) {
        while (!data.empty()) {
            const ssize_t n = ::write(fd_, data.data(), data.size());
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) fail("cannot write");
            data.remove_prefix(static_cast<std::size_t>(n));
        }
    }

    void commit() {
        if (::fsync(fd_) != 0) fail("cannot write");
        const int fd = fd_;
        fd_ = -1;
        if (::close(fd) != 0) fail("cannot write");
        std::error_code ec;
        fs::rename(tmp_, target_, ec);
        if (ec) throw Error(fmt::format("cannot write: {}", ec.message()), target_.string());
        tmp_.clear();
    }

  private:
    [[noreturn]] void fail(std::string_view doing) const {
        throw Error(fmt::format("{}: {}", doing, errno_text()), target_.string());
    }

    fs::path target_, tmp_;
    int fd_ = -1;
};

struct ExportFlags {
    std::string collection, output;
    bool chunks = false, vectors = false;
};

int run_export(const Context& ctx, const ExportFlags& f) {
    const Index index = ctx.open(Index::Mode::read);
    ExportOptions o;
    if (!f.collection.empty()) o.collection = f.collection;
    o.chunks = f.chunks;
    o.vectors = f.vectors;
    const auto t0 = std::chrono::steady_clock::now();
    ExportReport r;
    const bool to_stdout = f.output.empty() || f.output == "-";
    if (to_stdout) {
        r = export_jsonl(index, o, [](std::string_view piece) { out(piece); });
    } else {
        ReplacingFile file(f.output);
        r = export_jsonl(index, o, [&](std::string_view piece) { file.write(piece); });
        file.commit();
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (o.collection && r.documents == 0) {
        ctx.note(fmt::format("no documents in collection '{}'", *o.collection));
    }
    if (!ctx.quiet) {
        fmt::print(stderr, "exported {} documents ({} chunks, {} vectors; {}){} in {:.2f} s\n",
                   r.documents, r.chunks, r.vectors, human_bytes(r.bytes),
                   to_stdout ? "" : fmt::format(" to {}", f.output), seconds);
    }
    return kOk;
}

struct ImportFlags {
    std::string input;
    unsigned jobs = 0;
    bool json = false;
};

std::string summary_json(const ImportReport& r, const std::string& index, bool created) {
    const IngestReport& d = r.documents;
    JsonWriter w;
    w.begin_object()
        .key("index")
        .value(index)
        .key("created")
        .value(created)
        .key("added")
        .value(d.added)
        .key("updated")
        .value(d.updated)
        .key("unchanged")
        .value(d.unchanged)
        .key("chunks")
        .value(d.chunks)
        .key("chunks_kept")
        .value(r.chunks_kept)
        .key("vectors_kept")
        .value(r.vectors_kept)
        .key("vectors_embedded")
        .value(r.vectors_embedded)
        .key("bytes")
        .value(d.bytes)
        .key("seconds")
        .value(d.seconds)
        .end_object();
    return w.take() + "\n";
}

int run_import(const Context& ctx, const ImportFlags& f) {
    std::ifstream file;
    std::istream* in = &std::cin;
    ImportOptions o;
    o.jobs = f.jobs;
    struct stat st {};
    if (f.input == "-") {
        // Standard input is read through a buffer of its own, not line by line through stdio.
        std::ios::sync_with_stdio(false);
        if (::fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode)) o.size = st.st_size;
    } else {
        file.open(f.input, std::ios::binary);
        if (!file) throw InputError(fmt::format("cannot read: {}", errno_text()), f.input);
        in = &file;
        o.display = f.input;
        if (::stat(f.input.c_str(), &st) == 0 && S_ISREG(st.st_mode)) o.size = st.st_size;
    }
    const ExportHeader header = read_export_header(*in, o.display);

    // A new index takes the export's settings, so that it ranks as the exported one did.
    const IndexLocation loc = ctx.location();
    bool created = false;
    Index index = [&] {
        try {
            return Index::open_or_create(loc.dir, header.settings, &created);
        } catch (const UsageError& e) {
            throw InputError(fmt::format("this rk cannot make an index with the export's "
                                         "settings: {}",
                                         e.what()),
                             o.display + ":1");
        }
    }();
    if (created) {
        ctx.note(
            fmt::format("created index {} with the export's settings (embedder {}, "
                        "tokenizer {}, chunks of {} tokens)",
                        index.dir().string(), header.settings.embedder, header.settings.tokenizer,
                        header.settings.chunk_size));
    }
    ctx.listen(index);

    ProgressBar bar(!ctx.quiet && ::isatty(STDERR_FILENO) != 0, "importing");
    IngestCallbacks cb;
    cb.progress = [&](const IngestProgress& p) { bar.update(p); };
    cb.note = [&](const IngestNote& n) {
        bar.clear();
        ctx.report(n);
    };
    if (ctx.verbose > 0) {
        cb.item = [&](std::string_view action, std::string_view id) {
            if (action == "unchanged" && ctx.verbose < 2) return;
            bar.clear();
            fmt::print(stderr, "{} {}\n", action, id);
        };
    }
    const ImportReport r = import_jsonl(index, *in, header, o, cb);
    bar.clear();

    if (f.json) out(summary_json(r, index.dir().string(), created));
    if (!ctx.quiet) {
        const IngestReport& d = r.documents;
        fmt::print(stderr,
                   "added {}, updated {}, unchanged {}; {} chunks ({} kept from the export), "
                   "{} vectors kept, {} embedded; {} in {:.2f} s\n",
                   d.added, d.updated, d.unchanged, d.chunks, r.chunks_kept, r.vectors_kept,
                   r.vectors_embedded, human_bytes(d.bytes), d.seconds);
    }
    return kOk;
}

}  // namespace

void add_export(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("export", "Write the index's documents as JSONL");
    auto f = std::make_shared<ExportFlags>();
    cmd->add_option("--collection", f->collection, "Only this collection's documents")
        ->type_name("NAME");
    cmd->add_flag("--chunks", f->chunks,
                  "Each document's chunks too: heading path, byte range, token count");
    cmd->add_flag("--vectors", f->vectors,
                  "Each chunk's stored vector too, base64 (implies --chunks)");
    cmd->add_option("-o,--output", f->output,
                    "Write to FILE (through a temporary file, renamed when complete); "
                    "default: standard output")
        ->type_name("FILE");
    cmd->footer(
        "The first line is a header (rk's version, the time, the index's settings), the last\n"
        "counts the documents. See rk-export(1) for the fields.\n"
        "\n"
        "Examples:\n"
        "  rk export -o backup.jsonl --vectors      # everything, for rk import\n"
        "  rk export --collection notes | jq -r '.id // empty'\n"
        "  rk export --vectors | rk --index /elsewhere/.rk import -");
    cmd->callback([&ctx, f] { ctx.action = [&ctx, f] { return run_export(ctx, *f); }; });
}

void add_import(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("import", "Read an export of rk export into the index");
    auto f = std::make_shared<ImportFlags>();
    cmd->add_option("FILE", f->input, "The export, or - for standard input")->required();
    cmd->add_option("-j,--jobs", f->jobs, "Worker threads (0: one per core)")->type_name("N");
    cmd->add_flag("--json", f->json, "Print the summary as JSON on stdout");
    cmd->footer(
        "A missing index is created with the export's settings; an existing one keeps its own,\n"
        "and what they change (chunks, vectors) is computed again. Documents already there with\n"
        "the same content are skipped, so a second run goes on where a first one stopped.\n"
        "See rk-import(1).\n"
        "\n"
        "Examples:\n"
        "  rk --index /new/.rk import backup.jsonl\n"
        "  ssh host rk export --vectors | rk import -");
    cmd->callback([&ctx, f] { ctx.action = [&ctx, f] { return run_import(ctx, *f); }; });
}

}  // namespace rk::cli
