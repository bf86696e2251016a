#include <fmt/format.h>
#include <git2.h>
#include <git2/sys/repository.h>

#include <fstream>
#include <sstream>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "ingest/formats.hpp"

namespace fs = std::filesystem;

namespace rk::inputs {

namespace {

// A directory's rule files, lowest precedence first.
constexpr const char* kRuleFiles[] = {".gitignore", ".ignore", ".rkignore"};

std::string git_message() {
    const git_error* e = git_error_last();
    return e != nullptr && e->message != nullptr ? e->message : "unknown libgit2 error";
}

// A directory name as a pattern that matches only itself.
std::string literal(std::string_view s) {
    std::string out;
    for (const char c : s) {
        if (c == '*' || c == '?' || c == '[' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

// libgit2 drops a negation without wildcards that takes back no earlier rule of its own file
// (git keeps it: "!keep.log" in a subdirectory's .gitignore takes back the top's "*.log").
// A class of one character makes it a pattern with wildcards that matches the same names.
std::string keep_negation(std::string pattern) {
    if (pattern.find_first_of("*?[") != std::string::npos) return pattern;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        const char c = pattern[i];
        if (c == '\\') {
            ++i;
            continue;
        }
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '_' || c == '.' || c == '-') {
            std::string out(pattern, 0, i);
            out += '[';
            out += c;
            out += ']';
            out.append(pattern, i + 1);
            return out;
        }
    }
    return pattern;
}

// One line of an ignore file in the directory `prefix` (relative to the rules' base: "" or
// "a/b/"), as a rule of the base directory. gitignore(5): a slash at the start or in the
// middle anchors a pattern to its file's directory; otherwise it matches at any depth below.
std::string rebase(std::string_view line, const std::string& prefix) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    while (!line.empty() && line.back() == ' ' &&
           (line.size() < 2 || line[line.size() - 2] != '\\')) {
        line.remove_suffix(1);
    }
    if (line.empty() || line.front() == '#') return {};
    const bool negation = line.front() == '!';
    if (negation) {
        line.remove_prefix(1);
        if (line.empty()) return {};
    }
    std::string pattern;
    if (prefix.empty()) {
        pattern = line;
    } else {
        std::string_view core = line;
        if (core.back() == '/') core.remove_suffix(1);
        const bool anchored = core.find('/') != std::string_view::npos;
        if (line.front() == '/') line.remove_prefix(1);
        pattern = fmt::format("/{}{}{}", literal(prefix), anchored ? "" : "**/", line);
    }
    if (!negation) return pattern;
    std::string rule = "!";
    rule += keep_negation(std::move(pattern));
    return rule;
}

// The rules, matched by libgit2.
class GitIgnoreRules final : public IgnoreRules {
  public:
    explicit GitIgnoreRules(const fs::path& root);
    ~GitIgnoreRules() override;
    GitIgnoreRules(const GitIgnoreRules&) = delete;
    GitIgnoreRules& operator=(const GitIgnoreRules&) = delete;

    void enter(const fs::path& dir) override;
    bool ignored(const fs::path& path, bool is_dir) override;
    std::string take_problems() override;

  private:
    // `path` relative to the rules' base directory, '/'-separated, or empty if outside it.
    [[nodiscard]] std::string relative(const fs::path& path) const;
    // Reads the rule files of `dir` (whose path from the base is `prefix`) and adds them.
    void load(const fs::path& dir, const std::string& prefix);
    void add(const std::string& rules, const std::string& prefix);

    // The rules of one directory, rewritten for the base.
    struct Loaded {
        std::string prefix;  // the directory from the base: "" or "a/b/"
        std::string rules;
    };

    git_repository* repo_ = nullptr;
    fs::path root_;             // as given
    fs::path base_;             // the repository's top, or the root; canonical
    std::string root_in_base_;  // the root relative to base_ ("" or "a/b/")
    std::string problems_;
    std::vector<Loaded> chain_;  // loaded: the directories from the base to the last entered
};

}  // namespace

GitIgnoreRules::GitIgnoreRules(const fs::path& root) : root_(root) {
    git_libgit2_init();
    // rk reads nothing of a repository but its ignore rules: whose it is does not matter.
    git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
    std::error_code ec;
    const fs::path canon = fs::canonical(root, ec);
    if (ec) {
        problems_ +=
            fmt::format("{}: cannot resolve for ignore rules: {}\n", root.string(), ec.message());
        return;
    }
    base_ = canon;
    git_repository* repo = nullptr;
    if (git_repository_open_ext(&repo, canon.c_str(), 0, nullptr) == 0 &&
        git_repository_is_bare(repo) == 0 && git_repository_workdir(repo) != nullptr) {
        const fs::path top = fs::canonical(git_repository_workdir(repo), ec);
        const fs::path rel = ec ? fs::path("..") : canon.lexically_relative(top);
        const bool inside = !rel.empty() && *rel.begin() != "..";
        // A directory the repository ignores, walked because the user named it, is walked
        // with the rules under it only (as if it were not in the repository).
        int root_ignored = 0;
        if (inside && rel != "." &&
            git_ignore_path_is_ignored(&root_ignored, repo, (rel.generic_string() + "/").c_str()) !=
                0) {
            root_ignored = 0;
        }
        if (inside && root_ignored == 0) {
            repo_ = repo;
            base_ = top;
            root_in_base_ = rel == "." ? "" : rel.generic_string() + "/";
            // The rule files of the directories from the top down to the root's parent (the
            // walk enters the root itself).
            std::string prefix;
            fs::path dir = top;
            for (const auto& part : rel) {
                if (part == ".") break;
                load(dir, prefix);
                dir /= part;
                prefix += part.generic_string() + "/";
            }
            return;
        }
    }
    git_repository_free(repo);
    // Not in a repository: an in-memory one whose work tree is the root.
    if (git_repository_new(&repo_) != 0 ||
        git_repository_set_workdir(repo_, canon.c_str(), 0) != 0) {
        problems_ +=
            fmt::format("{}: ignore rules unavailable: {}\n", root.string(), git_message());
        git_repository_free(repo_);
        repo_ = nullptr;
    }
}

GitIgnoreRules::~GitIgnoreRules() {
    git_repository_free(repo_);
    git_libgit2_shutdown();
}

void GitIgnoreRules::enter(const fs::path& dir) {
    if (repo_ == nullptr) return;
    const std::string rel = dir.lexically_relative(root_).generic_string();
    const std::string prefix = root_in_base_ + (rel == "." || rel.empty() ? "" : rel + "/");
    // Only the rules of `dir`'s own ancestors stay loaded: every path is checked against
    // every loaded rule, and a walk enters directories depth first.
    bool dropped = false;
    while (!chain_.empty() && !prefix.starts_with(chain_.back().prefix)) {
        chain_.pop_back();
        dropped = true;
    }
    if (dropped) {
        git_ignore_clear_internal_rules(repo_);
        for (const auto& loaded : chain_) add(loaded.rules, loaded.prefix);
    }
    load(dir, prefix);
}

void GitIgnoreRules::load(const fs::path& dir, const std::string& prefix) {
    std::string rules;
    for (const char* name : kRuleFiles) {
        const fs::path file = dir / name;
        std::error_code ec;
        if (!fs::is_regular_file(file, ec)) continue;
        std::ifstream in(file, std::ios::binary);
        std::ostringstream text;
        text << in.rdbuf();
        if (!in) {
            problems_ += fmt::format("{}: cannot read ignore rules\n", file.string());
            continue;
        }
        std::istringstream lines(text.str());
        for (std::string line; std::getline(lines, line);) {
            const std::string rule = rebase(line, prefix);
            if (!rule.empty()) rules += rule + '\n';
        }
    }
    if (rules.empty()) return;
    add(rules, prefix);
    chain_.push_back({prefix, std::move(rules)});
}

void GitIgnoreRules::add(const std::string& rules, const std::string& prefix) {
    if (git_ignore_add_rule(repo_, rules.c_str()) != 0) {
        problems_ += fmt::format("{}: ignore rules not used: {}\n",
                                 (base_ / prefix).lexically_normal().string(), git_message());
    }
}

std::string GitIgnoreRules::relative(const fs::path& path) const {
    const std::string rel = path.lexically_relative(root_).generic_string();
    if (rel.empty() || rel == "." || rel.starts_with("../")) return {};
    return root_in_base_ + rel;
}

bool GitIgnoreRules::ignored(const fs::path& path, bool is_dir) {
    if (repo_ == nullptr) return false;
    std::string rel = relative(path);
    if (rel.empty()) return false;
    if (is_dir) rel += '/';
    int ignored = 0;
    if (git_ignore_path_is_ignored(&ignored, repo_, rel.c_str()) != 0) {
        problems_ +=
            fmt::format("{}: ignore rules not checked: {}\n", path.string(), git_message());
        return false;
    }
    return ignored != 0;
}

std::string GitIgnoreRules::take_problems() {
    return std::exchange(problems_, {});
}

std::unique_ptr<IgnoreRules> git_ignore_rules(const fs::path& root) {
    return std::make_unique<GitIgnoreRules>(root);
}

}  // namespace rk::inputs
