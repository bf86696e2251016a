// Embedders that call an HTTP service: an OpenAI-compatible one (POST URL/embeddings) or
// Ollama (POST URL/api/embed). Their vectors are unit-normalised here, whatever the service
// does, so that they compare like every other embedder's.
#pragma once

#include <memory>
#include <string_view>

#include "rk/embed.hpp"

namespace rk::embed {

// Whether `spec` names a remote embedder ("openai:..." or "ollama:...").
bool is_remote_spec(std::string_view spec);

// For "openai:URL?model=NAME[&key_env=VAR][&batch=N][&concurrency=N][&timeout=SECONDS]" and
// the same after "ollama:". The key comes from key_env, else (openai only) OPENAI_API_KEY.
// batch: texts a request (default 64, 1 to 2048); concurrency: requests at once (default 4,
// 1 to 64); timeout: seconds to connect and between reads of a reply (default 60).
// `dimension` 0 asks the service once, with a probe text, how long its vectors are (for a
// new index); otherwise it is the index's and no request is made. The embedder's spec() keeps
// the scheme, the URL without a trailing slash, the model and key_env: what decides the
// vectors and where the key is. Throws UsageError for a bad spec and ServiceError when the
// probe fails.
std::unique_ptr<Embedder> make_remote(std::string_view spec, int dimension);

}  // namespace rk::embed
