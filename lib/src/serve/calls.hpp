// The calls that every front end serves (search, get, stats): their arguments, checked,
// and their results, as JSON objects. `rk mcp` and `rk serve` differ only in transport.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "rk/index.hpp"
#include "rk/search.hpp"
#include "rk/serve.hpp"

namespace rk::serve {

struct SearchArgs {
    Query query;
    bool explain = false;
};

struct GetArgs {
    std::string id;                                    // a document id, a path, or ID#N for chunk N
    std::optional<std::int64_t> chunk;                 // chunk N of the document (instead of ID#N)
    std::optional<std::int64_t> start_line, end_line;  // 1-based, inclusive
};

// Query parameters as HTTP carries them: a key may repeat (where=a=1&where=b=2).
using Params = std::multimap<std::string, std::string>;

// From a JSON object (an MCP tool's arguments, an HTTP request body) or from HTTP query
// parameters. Unknown keys and values of the wrong type or range throw UsageError.
// `defaults` fill what the call does not say (a rerank argument of "" turns reranking off).
SearchArgs search_args(const simdjson::dom::object& args, const SearchDefaults& defaults = {});
SearchArgs search_args(const Params& params, const SearchDefaults& defaults = {});
GetArgs get_args(const simdjson::dom::object& args);
// `id` comes from the URL's path; chunk and lines from its parameters.
GetArgs get_args(std::string id, const Params& params);
void stats_args(const simdjson::dom::object& args);
void stats_args(const Params& params);

// {"query", "mode", "k", "took_ms", "results": [hit, ...]}, each hit as write_hit writes it,
// and "warnings": [message, ...] when something failed without failing the search.
std::string search_result(const Index& index, const SearchArgs& args);
// The document (or chunk, or line range) with its metadata; nullopt when there is none.
// Throws UsageError for a line range outside the text.
std::optional<std::string> get_result(const Index& index, const GetArgs& args);
std::string stats_result(const Index& index);

// The JSON Schemas of each call's arguments and results, as MCP's tools/list declares them.
std::string_view search_input_schema();
std::string_view search_output_schema();
std::string_view get_input_schema();
std::string_view get_output_schema();
std::string_view stats_input_schema();
std::string_view stats_output_schema();

}  // namespace rk::serve
