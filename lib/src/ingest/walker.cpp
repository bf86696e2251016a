#include "ingest/walker.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <system_error>

#include "ingest/ignore.hpp"
#include "rk/error.hpp"
#include "util/glob.hpp"

namespace fs = std::filesystem;

namespace rk::inputs {

namespace {

bool matches_any(const std::vector<std::string>& patterns, const std::string& rel,
                 const std::string& name) {
    return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) {
        // A pattern with a slash is matched against the whole relative path, like .gitignore.
        return p.find('/') != std::string::npos ? util::glob_match(p, rel)
                                                : util::glob_match(p, name);
    });
}

bool is_hidden(const fs::path& p) {
    const std::string name = p.filename().string();
    return name.size() > 1 && name[0] == '.' && name != "..";
}

fs::path normal_absolute(const fs::path& p) {
    std::error_code ec;
    fs::path abs = fs::absolute(p, ec);
    return (ec ? p : abs).lexically_normal();
}

class Walker {
  public:
    Walker(const IngestOptions& o, fs::path index_dir,
           const std::function<void(const IngestNote&)>& note, std::int64_t& failed)
        : o_(o), index_dir_(std::move(index_dir)), note_(note), failed_(failed) {}

    void error(const std::string& where, const std::string& what) {
        ++failed_;
        if (note_) note_({IngestNote::Level::error, where, what});
    }

    void ignored(const fs::path& p) {
        if (note_) {
            note_({IngestNote::Level::detail, p.string(),
                   "skipped by an ignore rule (.gitignore, .ignore, .rkignore; --no-ignore "
                   "reads it)"});
        }
    }

    // Problems reading ignore rules are warnings: the walk goes on without those rules.
    void rule_problems(IgnoreRules& rules) {
        const std::string problems = rules.take_problems();
        std::size_t at = 0;
        while (note_ && at < problems.size()) {
            const std::size_t end = problems.find('\n', at);
            note_({IngestNote::Level::warning, "", problems.substr(at, end - at)});
            at = end + 1;
        }
    }

    void add_file(const fs::path& p) {
        std::error_code ec;
        const auto size = fs::file_size(p, ec);
        if (ec) {
            error(p.string(), ec.message());
            return;
        }
        out.files.push_back({normal_absolute(p), size});
    }

    // A symbolic link met in a walk that is neither a file nor a directory once followed.
    void unfollowable(const fs::path& p) {
        std::error_code ec;
        const auto target = fs::status(p, ec);
        if (ec && target.type() != fs::file_type::not_found) {
            error(p.string(), fmt::format("cannot follow symbolic link: {}", ec.message()));
        } else if (target.type() == fs::file_type::not_found) {
            std::error_code read_ec;
            const auto to = fs::read_symlink(p, read_ec);
            error(p.string(), fmt::format("dangling symbolic link (to '{}', which does not exist)",
                                          read_ec ? std::string("?") : to.string()));
        }
    }

    // Walks `root`; `pattern`, if set, must match each file's path relative to the root.
    // Each unreadable directory is reported and the walk goes on with the others.
    void walk_dir(const fs::path& root, const std::string* pattern) {
        const fs::path index_abs = normal_absolute(index_dir_);
        std::unique_ptr<IgnoreRules> rules;
        if (o_.ignore_rules) rules = make_ignore_rules(root);
        std::vector<fs::path> pending{root};
        while (!pending.empty()) {
            const fs::path dir = std::move(pending.back());
            pending.pop_back();
            if (rules) {
                rules->enter(dir);
                rule_problems(*rules);
            }
            std::error_code ec;
            fs::directory_iterator it(dir, ec);
            if (ec) {
                error(dir.string(), fmt::format("cannot read directory: {}", ec.message()));
                continue;
            }
            for (; it != fs::directory_iterator(); it.increment(ec)) {
                const fs::path& p = it->path();
                const std::string name = p.filename().string();
                const std::string rel = p.lexically_relative(root).generic_string();
                std::error_code type_ec;
                if (it->is_directory(type_ec)) {
                    const bool skip =
                        name == ".git" || name == ".rk" || (is_hidden(p) && !o_.hidden) ||
                        normal_absolute(p) == index_abs || matches_any(o_.exclude, rel, name) ||
                        (!o_.recursive && pattern == nullptr);
                    // Symbolic links to directories are not followed: no cycles.
                    if (skip || it->is_symlink(type_ec)) continue;
                    if (rules && rules->ignored(p, true)) {
                        ignored(p);
                    } else {
                        pending.push_back(p);
                    }
                    continue;
                }
                const bool regular = it->is_regular_file(type_ec);
                if (is_hidden(p) && !o_.hidden) continue;
                if (pattern != nullptr && !util::glob_match(*pattern, rel)) continue;
                if (!o_.include.empty() && !matches_any(o_.include, rel, name)) continue;
                if (matches_any(o_.exclude, rel, name)) continue;
                if (rules && rules->ignored(p, false)) {
                    ignored(p);
                    continue;
                }
                if (!regular) {
                    // A link that leads nowhere fails here as it does when named directly;
                    // sockets, pipes and devices are not documents.
                    if (it->is_symlink(type_ec)) unfollowable(p);
                    continue;
                }
                add_file(p);
            }
            if (ec) error(dir.string(), fmt::format("cannot read directory: {}", ec.message()));
        }
    }

    void add_arg(const std::string& arg) {
        if (arg == "-") {
            out.has_stdin = true;
            return;
        }
        std::error_code ec;
        const fs::path p(arg);
        const auto st = fs::status(p, ec);
        if (fs::is_regular_file(st)) {
            add_file(p);
            out.roots.push_back(normal_absolute(p));
            return;
        }
        if (fs::is_directory(st)) {
            if (!o_.recursive) {
                throw UsageError(
                    fmt::format("{} is a directory; use -r to ingest the files under it", arg));
            }
            out.roots.push_back(normal_absolute(p));
            walk_dir(p, nullptr);
            return;
        }
        if (fs::exists(st)) {
            error(arg, "not a regular file or directory");
            return;
        }
        if (util::has_glob_chars(arg)) {
            // The longest leading part without metacharacters is where the walk starts.
            const fs::path pattern_path(arg);
            fs::path base;
            fs::path rest;
            bool in_pattern = false;
            for (const auto& part : pattern_path) {
                if (!in_pattern && util::has_glob_chars(part.string())) in_pattern = true;
                (in_pattern ? rest : base) /= part;
            }
            if (base.empty()) base = ".";
            const std::string pattern = rest.generic_string();
            const std::size_t before = out.files.size();
            if (fs::is_directory(base, ec)) {
                out.roots.push_back(normal_absolute(base));
                walk_dir(base, &pattern);
            }
            if (out.files.size() == before) error(arg, "no files match this pattern");
            return;
        }
        error(arg, ec ? ec.message() : "no such file or directory");
    }

    Walk out;

  private:
    const IngestOptions& o_;
    fs::path index_dir_;
    const std::function<void(const IngestNote&)>& note_;
    std::int64_t& failed_;
};

}  // namespace

Walk walk(const IngestOptions& options, const fs::path& index_dir,
          const std::function<void(const IngestNote&)>& note, std::int64_t& failed) {
    Walker w(options, index_dir, note, failed);
    for (const auto& arg : options.paths) w.add_arg(arg);
    auto& files = w.out.files;
    std::sort(files.begin(), files.end(),
              [](const SourceFile& a, const SourceFile& b) { return a.path < b.path; });
    files.erase(
        std::unique(files.begin(), files.end(),
                    [](const SourceFile& a, const SourceFile& b) { return a.path == b.path; }),
        files.end());
    return std::move(w.out);
}

}  // namespace rk::inputs
