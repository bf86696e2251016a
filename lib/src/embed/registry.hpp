// The embedders rk knows, by the scheme their spec starts with ("builtin", "model2vec:DIR",
// "openai:URL?model=NAME", ...): each kind plugs in here with a function that opens one.
#pragma once

#include <memory>
#include <string_view>

#include "rk/embed.hpp"

namespace rk::embed {

// Opens the embedder `spec` names. `dimension`: the index's (then a service is not asked), or
// 0 when creating an index (a service is then asked once, by a probe request). Returns
// nullptr for "none". Throws UsageError for an unknown or malformed spec, and what opening
// the kind throws (a model's missing file, ServiceError for a service that fails the probe).
std::unique_ptr<Embedder> open_embedder(std::string_view spec, int dimension);

// Checks a spec's form without opening anything (no file read, no request). Throws UsageError
// as open_embedder() does.
void check_spec(std::string_view spec);

// Whether `spec` names the builtin embedder ("builtin", "builtin:BITS").
bool is_builtin(std::string_view spec);

}  // namespace rk::embed
