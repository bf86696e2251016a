// Defaults from configuration files, for options not given on the command line.
// Precedence: the command line, then INDEX/config.toml, then the user's config.toml.
#include <toml++/toml.h>

#include <cstdlib>
#include <set>

#include "cli.hpp"
#include "rk/error.hpp"

namespace fs = std::filesystem;

namespace rk::cli {

namespace {

std::optional<fs::path> user_config_file() {
    // NOLINTNEXTLINE(concurrency-mt-unsafe): read before any thread starts
    if (const char* explicit_file = std::getenv("RK_CONFIG")) {
        if (*explicit_file == '\0') return std::nullopt;  // RK_CONFIG= turns it off
        return fs::path(explicit_file);
    }
    const char* xdg = std::getenv("XDG_CONFIG_HOME");  // NOLINT(concurrency-mt-unsafe)
    if (xdg != nullptr && *xdg == '/') return fs::path(xdg) / "rk" / "config.toml";
    const char* home = std::getenv("HOME");  // NOLINT(concurrency-mt-unsafe)
    if (home != nullptr && *home != '\0') {
        return fs::path(home) / ".config" / "rk" / "config.toml";
    }
    return std::nullopt;
}

std::string scalar(const toml::node& node, const std::string& where) {
    if (const auto* s = node.as_string()) return s->get();
    if (const auto* i = node.as_integer()) return std::to_string(i->get());
    if (const auto* f = node.as_floating_point()) return fmt::format("{}", f->get());
    if (const auto* b = node.as_boolean()) return b->get() ? "true" : "false";
    throw InputError("expected a string, number or boolean", where);
}

CLI::Option* find_option(CLI::App& app, const std::string& key) {
    if (auto* o = app.get_option_no_throw("--" + key)) return o;
    if (key.size() == 1) return app.get_option_no_throw("-" + key);
    return nullptr;
}

class Applier {
  public:
    // Applies one file's settings to `global` and the chosen `command`, skipping options
    // already given on the command line or set by a file of higher precedence.
    void apply(const fs::path& file, CLI::App& global, CLI::App* command) {
        std::error_code ec;
        if (!fs::exists(file, ec)) return;
        toml::table table;
        try {
            table = toml::parse_file(file.string());
        } catch (const toml::parse_error& e) {
            const auto& at = e.source().begin;
            throw InputError(std::string(e.description()),
                             fmt::format("{}:{}:{}", file.string(), at.line, at.column));
        }
        for (const auto& [key, node] : table) {
            const std::string k(key.str());
            const std::string where = fmt::format("{}: {}", file.string(), k);
            if (const auto* section = node.as_table()) {
                CLI::App* sub = nullptr;
                for (auto* candidate : global.get_subcommands({})) {
                    if (candidate->get_name() == k) sub = candidate;
                }
                if (sub == nullptr) throw InputError("no such command", where);
                if (sub != command) continue;
                for (const auto& [name, value] : *section) {
                    set(*sub, std::string(name.str()), value,
                        fmt::format("{}.{}", where, name.str()));
                }
                continue;
            }
            if (k == "index") {
                throw InputError(
                    "the index is chosen by --index, RK_INDEX or a .rk directory, "
                    "not by a configuration file",
                    where);
            }
            set(global, k, node, where);
        }
    }

  private:
    void set(CLI::App& app, const std::string& key, const toml::node& value,
             const std::string& where) {
        CLI::Option* opt = find_option(app, key);
        if (opt == nullptr || opt->get_positional()) {
            throw InputError(fmt::format("no such option of rk {}", app.get_name()), where);
        }
        if (opt->count() > 0 || done_.contains(opt)) return;
        done_.insert(opt);
        // A flag takes true or false (or a count, for -v): CLI11 would also take strings such
        // as "yes" or "off", which TOML means as text, not as a truth value.
        if (opt->get_expected_max() == 0 && value.as_boolean() == nullptr &&
            value.as_integer() == nullptr) {
            throw InputError("expected true or false", where);
        }
        try {
            if (const auto* list = value.as_array()) {
                for (const auto& item : *list) opt->add_result(scalar(item, where));
            } else {
                opt->add_result(scalar(value, where));
            }
            opt->run_callback();
        } catch (const CLI::Error& e) {
            throw InputError(e.what(), where);
        }
    }

    std::set<const CLI::Option*> done_;
};

}  // namespace

void apply_config(CLI::App& app, const Context& ctx) {
    CLI::App* command = nullptr;
    for (auto* sub : app.get_subcommands()) command = sub;
    Applier applier;
    // The index's own file first: it is the more specific. `rk init` has no index yet.
    if (command != nullptr && command->get_name() != "init") {
        try {
            applier.apply(ctx.location().dir / "config.toml", app, command);
        } catch (const IndexError&) {
            // No index location can be worked out: only the user's file applies.
        }
    }
    if (auto user = user_config_file()) applier.apply(*user, app, command);
}

}  // namespace rk::cli
