#include "cli.hpp"
#include "rk/error.hpp"

namespace rk::cli {

void add_init(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("init", "Create an index (./.rk unless DIR or --index)");
    auto dir = std::make_shared<std::string>();
    auto s = std::make_shared<Settings>();
    cmd->add_option("DIR", *dir, "Where to create it")->type_name("DIR");
    cmd->add_option("--embedder", s->embedder,
                    "Embedder, fixed for the index's life: builtin, builtin:BITS, none, "
                    "model2vec:DIR, openai:URL?model=NAME or ollama:URL?model=NAME (rk-init(1))")
        ->type_name("SPEC");
    cmd->add_option("--tokenizer", s->tokenizer,
                    "snowball:english (English stemming, the default), porter (the older English "
                    "stemmer), unicode (no stemming), trigram (substrings) or snowball:LANGUAGE "
                    "(e.g. snowball:french)")
        ->type_name("NAME");
    cmd->add_option("--chunk-size", s->chunk_size, "Tokens per chunk")->type_name("N");
    cmd->add_option("--chunk-overlap", s->chunk_overlap,
                    "Tokens repeated between chunks cut from one paragraph")
        ->type_name("N");
    cmd->footer("Example:\n  rk init --tokenizer unicode --chunk-size 128");
    cmd->callback([&ctx, dir, s] {
        ctx.action = [&ctx, dir, s] {
            std::filesystem::path where;
            if (!dir->empty()) {
                where = *dir;
            } else if (!ctx.index_flag.empty()) {
                where = ctx.index_flag;
            } else {
                where = std::filesystem::current_path() / ".rk";
            }
            const Index index = Index::create(where, *s);
            ctx.note(fmt::format("created index {} (tokenizer {}, chunks of {} tokens)",
                                 index.dir().string(), s->tokenizer, s->chunk_size));
            return kOk;
        };
    });
}

}  // namespace rk::cli
