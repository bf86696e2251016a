// rk get, rk ls, rk rm: looking at and removing stored documents.
#include <ctime>

#include "cli.hpp"
#include "rk/error.hpp"
#include "rk/ids.hpp"
#include "rk/json.hpp"

namespace rk::cli {

namespace {

std::string iso_time(std::int64_t t) {
    const auto tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return {buf, n};
}

void info_fields(JsonWriter& w, const DocumentInfo& d) {
    write_id(w, "id", d.id);
    w.key("title").value(d.title);
    write_id(w, "source", d.source);
    w.key("collection")
        .value(d.collection)
        .key("meta")
        .raw(d.meta.empty() ? "{}" : d.meta)
        .key("hash")
        .value(d.hash)
        .key("bytes")
        .value(d.bytes)
        .key("chunks")
        .value(d.chunks)
        .key("updated")
        .value(iso_time(d.updated));
}

std::string tsv_field(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (const char c : s) out.push_back(c == '\t' || c == '\n' || c == '\r' ? ' ' : c);
    return out;
}

}  // namespace

void add_get(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("get", "Print a stored document, or one chunk as ID#N");
    auto key = std::make_shared<std::string>();
    auto format = std::make_shared<std::string>("text");
    cmd->add_option("ID", *key,
                    "Document id or path, as rk prints it (escaped or not), or ID#N for chunk N "
                    "(from 0)")
        ->required();
    cmd->add_option("--format", *format, "text (the stored text) or json (with metadata)")
        ->check(CLI::IsMember({"text", "json"}));
    cmd->footer(
        "Examples:\n  rk get 4983\n  rk get docs/install.md --format json\n"
        "  rk get 'docs/install.md#2'");
    cmd->callback([&ctx, key, format] {
        ctx.action = [&ctx, key, format] {
            const Index index = ctx.open(Index::Mode::read);
            const auto doc = index.get(*key);
            if (!doc) {
                ctx.note(fmt::format("no document or chunk '{}'", *key));
                return kNegative;
            }
            if (*format == "text") {
                out(doc->text);
                if (!doc->text.empty() && doc->text.back() != '\n') out("\n");
                return kOk;
            }
            JsonWriter w;
            w.begin_object();
            info_fields(w, doc->info);
            w.key("text").value(doc->text).key("chunk_list").begin_array();
            for (const auto& c : doc->chunks) {
                w.begin_object()
                    .key("seq")
                    .value(c.seq)
                    .key("heading")
                    .value(c.heading)
                    .key("start")
                    .value(c.start)
                    .key("end")
                    .value(c.end)
                    .key("tokens")
                    .value(c.tokens)
                    .end_object();
            }
            w.end_array().end_object();
            out(w.str() + "\n");
            return kOk;
        };
    });
}

void add_ls(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("ls", "List documents");
    auto glob = std::make_shared<std::string>();
    auto collection = std::make_shared<std::string>();
    auto format = std::make_shared<std::string>("text");
    cmd->add_option("GLOB", *glob, "Only ids or paths matching GLOB");
    cmd->add_option("--collection", *collection, "Only this collection")->type_name("NAME");
    cmd->add_option("--format", *format, "text, json, jsonl or tsv")
        ->check(CLI::IsMember({"text", "json", "jsonl", "tsv"}));
    cmd->footer(
        "Examples:\n  rk ls\n  rk ls --collection notes --format json | jq '.[].id'\n"
        "  rk ls '*/docs/*'");
    cmd->callback([&ctx, glob, collection, format] {
        ctx.action = [&ctx, glob, collection, format] {
            const Index index = ctx.open(Index::Mode::read);
            ListFilter filter;
            if (!collection->empty()) filter.collection = *collection;
            if (!glob->empty()) filter.glob = *glob;
            const auto docs = index.list(filter);
            const bool color = ctx.color_stdout();
            if (*format == "json") {
                JsonWriter w;
                w.begin_array();
                for (const auto& d : docs) {
                    w.begin_object();
                    info_fields(w, d);
                    w.end_object();
                }
                w.end_array();
                out(w.str() + "\n");
                return kOk;
            }
            std::string buf;
            for (const auto& d : docs) {
                if (*format == "jsonl") {
                    JsonWriter w;
                    w.begin_object();
                    info_fields(w, d);
                    w.end_object();
                    buf += w.str();
                    buf += '\n';
                } else if (*format == "tsv") {
                    buf +=
                        fmt::format("{}\t{}\t{}\t{}\t{}\n", escape_id(d.id),
                                    tsv_field(d.collection), d.chunks, d.bytes, tsv_field(d.title));
                } else {
                    buf += fmt::format("{}  {}  {}\n",
                                       style(color, "1", escape_id(display_path(d.id))),
                                       style(color, "2", d.collection), tsv_field(d.title));
                }
                if (buf.size() > 1 << 16) {
                    out(buf);
                    buf.clear();
                }
            }
            out(buf);
            return kOk;
        };
    });
}

void add_rm(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("rm", "Remove documents by id, path, glob or collection");
    auto selectors = std::make_shared<std::vector<std::string>>();
    auto collection = std::make_shared<std::string>();
    cmd->add_option("SELECTOR", *selectors,
                    "Document ids or paths, as rk prints them; else globs over either");
    cmd->add_option("--collection", *collection, "Remove every document of this collection")
        ->type_name("NAME");
    cmd->footer(
        "Examples:\n  rk rm docs/old.md\n  rk rm '*/drafts/*'\n  rk rm --collection scratch");
    cmd->callback([&ctx, selectors, collection] {
        ctx.action = [&ctx, selectors, collection] {
            if (selectors->empty() && collection->empty()) {
                throw UsageError("rm needs a SELECTOR or --collection");
            }
            Index index = ctx.open(Index::Mode::write);
            const auto removed = index.remove(
                *selectors,
                collection->empty() ? std::nullopt : std::optional<std::string>(*collection));
            if (ctx.verbose > 0) {
                for (const auto& id : removed) fmt::print(stderr, "removed {}\n", escape_id(id));
            }
            if (removed.empty()) {
                ctx.note("nothing matched; nothing removed");
                return kNegative;
            }
            ctx.note(fmt::format("removed {} document{}", removed.size(),
                                 removed.size() == 1 ? "" : "s"));
            return kOk;
        };
    });
}

}  // namespace rk::cli
