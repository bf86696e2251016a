// The rerank step: a service (Jina, Cohere, TEI and their kin) reorders the best hits.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace rk {

struct Reranked {
    std::size_t index = 0;  // into the documents given
    double score = 0;       // the service's relevance score, higher is better
};

// The most documents one rerank request sends (Query::rerank_depth is capped to it).
inline constexpr int kMaxRerankDepth = 1000;

// Sends `query` and `documents` to the reranking service `spec`
// ("URL?model=NAME[&key_env=VAR][&timeout=S][&retries=N]", URL being the full endpoint) as
// {model, query, documents, top_n} and returns what it ranked, best first: every document
// it scored, each once. Accepts {"results": [{"index", "relevance_score"}]} and a bare
// [{"index", "score"}]. Throws UsageError for a bad spec and ServiceError when the service
// fails or its reply is not one of those.
std::vector<Reranked> call_reranker(std::string_view spec, std::string_view query,
                                    const std::vector<std::string>& documents);

}  // namespace rk
