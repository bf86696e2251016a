// Ignore rules for directory walks, as git and ripgrep apply them, matched by libgit2 (the
// semantics of gitignore(5): negation, anchored and directory-only patterns, `**`).
//
// Sources, highest precedence first: `.rkignore`, then `.ignore` files (a deeper directory's
// over a shallower one's; a negation in one of them takes back what a .gitignore ignores);
// then git's own: `.gitignore` files (deeper first), the repository's `.git/info/exclude` and
// the global excludes file (core.excludesFile, by default $XDG_CONFIG_HOME/git/ignore).
// Inside a git repository every source applies, and the rule files of the directories between
// the repository's top and the walked directory too; elsewhere, the .gitignore, .ignore and
// .rkignore files under the walked directory.
//
// libgit2 reads a repository's .gitignore files itself, but drops a negation without
// wildcards that takes back nothing of its own file, where git keeps it. So every rule file
// is read here, each rule rewritten as one of the base directory (anchored at its file's
// directory), and added as the repository's internal rules, which libgit2 consults first
// (last match wins): git's semantics, and the precedence above by the order of adding.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

struct git_repository;

namespace rk::inputs {

class IgnoreRules {
  public:
    // Rules for a walk of the directory `root`. Never throws for a broken repository or an
    // unreadable rule file: what could not be used is in problems(), and the walk goes on
    // with the rest.
    explicit IgnoreRules(const std::filesystem::path& root);
    ~IgnoreRules();
    IgnoreRules(const IgnoreRules&) = delete;
    IgnoreRules& operator=(const IgnoreRules&) = delete;

    // Takes in the .gitignore, .ignore and .rkignore files of `dir`, a directory under the
    // root: call it when the walk enters `dir`, after its parent.
    void enter(const std::filesystem::path& dir);

    // Whether `path` (the root joined with a relative path; a directory when `is_dir`) is
    // ignored.
    bool ignored(const std::filesystem::path& path, bool is_dir);

    // What went wrong reading rules since the last call (one line each), then cleared.
    std::string take_problems();

  private:
    // `path` relative to the rules' base directory, '/'-separated, or empty if outside it.
    [[nodiscard]] std::string relative(const std::filesystem::path& path) const;
    // Reads the rule files of `dir` (whose path from the base is `prefix`) and adds them.
    void load(const std::filesystem::path& dir, const std::string& prefix);
    void add(const std::string& rules, const std::string& prefix);

    // The rules of one directory, rewritten for the base.
    struct Loaded {
        std::string prefix;  // the directory from the base: "" or "a/b/"
        std::string rules;
    };

    git_repository* repo_ = nullptr;
    std::filesystem::path root_;  // as given
    std::filesystem::path base_;  // the repository's top, or the root; canonical
    std::string root_in_base_;    // the root relative to base_ ("" or "a/b/")
    std::string problems_;
    std::vector<Loaded> chain_;  // loaded: the directories from the base to the last entered
};

}  // namespace rk::inputs
