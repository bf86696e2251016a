// Embedders turn text into vectors. An index records its embedder's spec at creation and
// refuses to mix vectors from another.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace rk {

class Embedder {
  public:
    Embedder() = default;
    Embedder(const Embedder&) = delete;
    Embedder& operator=(const Embedder&) = delete;
    virtual ~Embedder() = default;

    // The canonical spec, as stored in the index: "builtin" or "builtin:1024".
    [[nodiscard]] virtual std::string spec() const = 0;
    [[nodiscard]] virtual int dimension() const = 0;
    // Writes one vector per text into `out`, row after row (texts.size() * dimension()
    // floats): unit length, or all zero for text with nothing to embed. Safe to call from
    // several threads at once.
    virtual void embed(std::span<const std::string_view> texts, std::span<float> out) const = 0;
    // One query's vector into `out` (dimension() floats). A service answers it under a
    // shorter timeout than ingest's batches, since someone is waiting. Throws ServiceError
    // when the service fails.
    virtual void embed_query(std::string_view text, std::span<float> out) const {
        embed({&text, 1}, out);
    }
};

// "builtin" (4096 dimensions) or "builtin:N" for N a power of two from 256 to 65536, or "none"
// (an index without vectors), for which it returns nullptr. Throws UsageError for anything
// else.
std::unique_ptr<Embedder> make_embedder(std::string_view spec);

}  // namespace rk
