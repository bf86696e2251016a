// rk completions: print the completion script for a shell (embedded from completions/).
#include "cli.hpp"

namespace rk::cli {

extern const std::string_view kCompletion_bash;
extern const std::string_view kCompletion_zsh;
extern const std::string_view kCompletion_fish;

void add_completions(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("completions", "Print the completion script for a shell");
    auto shell = std::make_shared<std::string>();
    cmd->add_option("SHELL", *shell, "bash, zsh or fish")
        ->required()
        ->check(CLI::IsMember({"bash", "zsh", "fish"}));
    cmd->footer(
        "Examples:\n"
        "  rk completions bash > ~/.local/share/bash-completion/completions/rk\n"
        "  rk completions zsh > ~/.zfunc/_rk      # with ~/.zfunc in $fpath\n"
        "  rk completions fish > ~/.config/fish/completions/rk.fish");
    cmd->callback([&ctx, shell] {
        ctx.action = [shell] {
            if (*shell == "bash") {
                out(kCompletion_bash);
            } else if (*shell == "zsh") {
                out(kCompletion_zsh);
            } else {
                out(kCompletion_fish);
            }
            return kOk;
        };
    });
}

}  // namespace rk::cli
