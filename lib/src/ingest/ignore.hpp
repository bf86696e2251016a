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

namespace rk::inputs {

class IgnoreRules {
  public:
    IgnoreRules() = default;
    IgnoreRules(const IgnoreRules&) = delete;
    IgnoreRules& operator=(const IgnoreRules&) = delete;
    virtual ~IgnoreRules() = default;

    // Takes in the .gitignore, .ignore and .rkignore files of `dir`, a directory under the
    // root: call it when the walk enters `dir`, after its parent.
    virtual void enter(const std::filesystem::path& dir) = 0;

    // Whether `path` (the root joined with a relative path; a directory when `is_dir`) is
    // ignored.
    virtual bool ignored(const std::filesystem::path& path, bool is_dir) = 0;

    // What went wrong reading rules since the last call (one line each), then cleared.
    virtual std::string take_problems() = 0;
};

// Rules for a walk of the directory `root`, from the formats module (util/module.hpp). Never
// throws for a broken repository or an unreadable rule file: what could not be used is in
// take_problems(), and the walk goes on with the rest. Throws rk::Error when the module
// cannot be loaded.
std::unique_ptr<IgnoreRules> make_ignore_rules(const std::filesystem::path& root);

}  // namespace rk::inputs
