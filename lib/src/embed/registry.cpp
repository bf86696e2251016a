#include "embed/registry.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>

#include "embed/builtin.hpp"
#include "embed/model2vec.hpp"
#include "embed/remote.hpp"
#include "rk/error.hpp"

namespace rk::embed {

namespace {

std::unique_ptr<Embedder> open_builtin(std::string_view spec, int /*dimension*/) {
    if (spec == "builtin") return std::make_unique<BuiltinEmbedder>();
    const std::string_view n = spec.substr(spec.find(':') + 1);
    int bits = 0;
    const auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), bits);
    if (ec != std::errc() || end != n.data() + n.size()) {
        throw UsageError(fmt::format("embedder '{}': BITS must be a number", spec));
    }
    return std::make_unique<BuiltinEmbedder>(bits);
}

void check_builtin(std::string_view spec) {
    (void)open_builtin(spec, 0);
}

// A kind of embedder: the scheme its specs start with ("builtin" alone or "builtin:..."), the
// forms its specs take (for messages), how to open one and how to check a spec's form.
struct Kind {
    std::string_view scheme, forms;
    std::unique_ptr<Embedder> (*open)(std::string_view spec, int dimension);
    void (*check)(std::string_view spec);
};

std::unique_ptr<Embedder> open_model2vec(std::string_view spec, int /*dimension*/) {
    return make_model2vec(spec.substr(spec.find(':') + 1));
}

void check_model2vec(std::string_view spec) {
    if (spec.size() <= std::string_view("model2vec:").size()) {
        throw UsageError(fmt::format("embedder '{}': name the model's directory", spec));
    }
}

void check_remote(std::string_view spec) {
    (void)make_remote(spec, 1);  // a dimension given: no request is made
}

constexpr std::array kKinds{
    Kind{"builtin", "builtin, builtin:BITS", open_builtin, check_builtin},
    Kind{"model2vec", "model2vec:DIR", open_model2vec, check_model2vec},
    Kind{"openai", "openai:URL?model=NAME", make_remote, check_remote},
    Kind{"ollama", "ollama:URL?model=NAME", make_remote, check_remote},
};

const Kind& kind_of(std::string_view spec) {
    const std::string_view scheme = spec.substr(0, spec.find(':'));
    for (const auto& kind : kKinds) {
        if (kind.scheme == scheme) return kind;
    }
    std::string known;
    for (const auto& kind : kKinds) known += fmt::format("{}, ", kind.forms);
    throw UsageError(fmt::format("unknown embedder '{}' (expected {}or none)", spec, known));
}

}  // namespace

bool is_builtin(std::string_view spec) {
    return spec == "builtin" || spec.starts_with("builtin:");
}

std::unique_ptr<Embedder> open_embedder(std::string_view spec, int dimension) {
    if (spec == "none") return nullptr;
    return kind_of(spec).open(spec, dimension);
}

void check_spec(std::string_view spec) {
    if (spec != "none") kind_of(spec).check(spec);
}

}  // namespace rk::embed

namespace rk {

std::unique_ptr<Embedder> make_embedder(std::string_view spec) {
    return embed::open_embedder(spec, 0);
}

}  // namespace rk
