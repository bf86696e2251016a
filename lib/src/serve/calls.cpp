#include "serve/calls.hpp"

#include <fmt/format.h>

#include <charconv>
#include <chrono>
#include <cmath>

#include "rk/error.hpp"
#include "rk/ids.hpp"
#include "rk/json.hpp"

namespace rk::serve {

namespace {

constexpr std::int64_t kMaxK = 1000;

using simdjson::dom::element;
using simdjson::dom::element_type;

std::string as_string(const element& v, std::string_view key) {
    std::string_view s;
    if (v.get_string().get(s) != simdjson::SUCCESS) {
        throw UsageError(fmt::format("'{}' must be a string", key));
    }
    return std::string(s);
}

bool as_bool(const element& v, std::string_view key) {
    bool b = false;
    if (v.get_bool().get(b) != simdjson::SUCCESS) {
        throw UsageError(fmt::format("'{}' must be true or false", key));
    }
    return b;
}

std::int64_t in_range(std::int64_t n, std::string_view key, std::int64_t lo, std::int64_t hi) {
    if (n < lo || n > hi) {
        throw UsageError(fmt::format("'{}' must be an integer from {} to {}", key, lo, hi));
    }
    return n;
}

std::int64_t as_int(const element& v, std::string_view key, std::int64_t lo, std::int64_t hi) {
    const std::string bad = fmt::format("'{}' must be an integer from {} to {}", key, lo, hi);
    switch (v.type()) {
        case element_type::INT64:
            return in_range(std::int64_t(v), key, lo, hi);
        case element_type::UINT64:
            throw UsageError(bad);
        case element_type::DOUBLE: {
            // JavaScript has only doubles: 5.0 is the integer 5.
            const double d = double(v);
            if (std::trunc(d) != d || std::fabs(d) > 1e15) throw UsageError(bad);
            return in_range(static_cast<std::int64_t>(d), key, lo, hi);
        }
        default:
            throw UsageError(bad);
    }
}

std::int64_t parse_int(std::string_view s, std::string_view key, std::int64_t lo, std::int64_t hi) {
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || end != s.data() + s.size()) {
        throw UsageError(
            fmt::format("'{}' must be an integer from {} to {}, not '{}'", key, lo, hi, s));
    }
    return in_range(n, key, lo, hi);
}

bool parse_bool(std::string_view s, std::string_view key) {
    if (s.empty() || s == "1" || s == "true" || s == "yes") return true;
    if (s == "0" || s == "false" || s == "no") return false;
    throw UsageError(fmt::format("'{}' must be true or false (1 or 0), not '{}'", key, s));
}

void set_text(Query& q, std::string text) {
    check_query_length(text);
    if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
        throw UsageError("the query is empty");
    }
    q.text = std::move(text);
}

std::pair<std::string, std::string> key_value(std::string_view kv) {
    const auto eq = kv.find('=');
    if (eq == std::string_view::npos || eq == 0) {
        throw UsageError(fmt::format("'where' wants KEY=VALUE, got '{}'", kv));
    }
    return {std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1))};
}

[[noreturn]] void unknown(std::string_view key, std::string_view known) {
    throw UsageError(fmt::format("unknown argument '{}' (expected {})", key, known));
}

constexpr std::string_view kSearchKeys =
    "query, mode, k, collection, where, path, chunks, explain, rerank or rerank_depth";

SearchArgs with_defaults(const SearchDefaults& defaults) {
    SearchArgs a;
    a.query.rerank = defaults.rerank;
    a.query.rerank_depth = defaults.rerank_depth;
    return a;
}

void set_rerank(Query& q, std::string spec) {
    if (spec.empty()) {
        q.rerank.reset();
    } else {
        q.rerank = std::move(spec);
    }
}

void line_range(GetArgs& a) {
    if (a.start_line && a.end_line && *a.end_line < *a.start_line) {
        throw UsageError(
            fmt::format("'end_line' ({}) is before 'start_line' ({})", *a.end_line, *a.start_line));
    }
}

}  // namespace

SearchArgs search_args(const simdjson::dom::object& args, const SearchDefaults& defaults) {
    SearchArgs a = with_defaults(defaults);
    bool has_query = false;
    for (const auto field : args) {
        const std::string_view key = field.key;
        const element& v = field.value;
        if (key == "query") {
            set_text(a.query, as_string(v, key));
            has_query = true;
        } else if (key == "mode") {
            a.query.mode = parse_search_mode(as_string(v, key));
        } else if (key == "k") {
            a.query.k = static_cast<int>(as_int(v, key, 1, kMaxK));
        } else if (key == "collection") {
            a.query.collection = as_string(v, key);
        } else if (key == "path") {
            a.query.path_glob = as_string(v, key);
        } else if (key == "chunks") {
            a.query.chunks = as_bool(v, key);
        } else if (key == "explain") {
            a.explain = as_bool(v, key);
        } else if (key == "rerank") {
            set_rerank(a.query, std::string(as_string(v, key)));
        } else if (key == "rerank_depth") {
            a.query.rerank_depth = static_cast<int>(as_int(v, key, 1, 1000));
        } else if (key == "where") {
            simdjson::dom::object where;
            if (v.get_object().get(where) != simdjson::SUCCESS) {
                throw UsageError("'where' must be an object of metadata keys and string values");
            }
            for (const auto kv : where) {
                std::string_view value;
                if (kv.value.get_string().get(value) != simdjson::SUCCESS) {
                    throw UsageError(fmt::format("'where' value of '{}' must be a string", kv.key));
                }
                a.query.where.emplace_back(std::string(kv.key), std::string(value));
            }
        } else {
            unknown(key, kSearchKeys);
        }
    }
    if (!has_query) throw UsageError("'query' is required");
    return a;
}

SearchArgs search_args(const Params& params, const SearchDefaults& defaults) {
    SearchArgs a = with_defaults(defaults);
    bool has_query = false;
    for (const auto& [key, v] : params) {
        if (key == "q" || key == "query") {
            if (has_query) throw UsageError("give the query once, as 'q'");
            set_text(a.query, v);
            has_query = true;
        } else if (key == "mode") {
            a.query.mode = parse_search_mode(v);
        } else if (key == "k") {
            a.query.k = static_cast<int>(parse_int(v, key, 1, kMaxK));
        } else if (key == "collection") {
            a.query.collection = v;
        } else if (key == "path") {
            a.query.path_glob = v;
        } else if (key == "chunks") {
            a.query.chunks = parse_bool(v, key);
        } else if (key == "explain") {
            a.explain = parse_bool(v, key);
        } else if (key == "rerank") {
            set_rerank(a.query, v);
        } else if (key == "rerank_depth") {
            a.query.rerank_depth = static_cast<int>(parse_int(v, key, 1, 1000));
        } else if (key == "where") {
            a.query.where.push_back(key_value(v));
        } else {
            unknown(key,
                    "q, mode, k, collection, where, path, chunks, explain, rerank or "
                    "rerank_depth");
        }
    }
    if (!has_query) throw UsageError("'q' is required");
    return a;
}

GetArgs get_args(const simdjson::dom::object& args) {
    GetArgs a;
    bool has_id = false;
    for (const auto field : args) {
        const std::string_view key = field.key;
        if (key == "id") {
            a.id = as_string(field.value, key);
            has_id = true;
        } else if (key == "chunk") {
            a.chunk = as_int(field.value, key, 0, INT32_MAX);
        } else if (key == "start_line") {
            a.start_line = as_int(field.value, key, 1, INT32_MAX);
        } else if (key == "end_line") {
            a.end_line = as_int(field.value, key, 1, INT32_MAX);
        } else {
            unknown(key, "id, chunk, start_line or end_line");
        }
    }
    if (!has_id || a.id.empty()) throw UsageError("'id' is required");
    line_range(a);
    return a;
}

GetArgs get_args(std::string id, const Params& params) {
    GetArgs a;
    a.id = std::move(id);
    if (a.id.empty()) throw UsageError("no document id in the path");
    for (const auto& [key, v] : params) {
        if (key == "chunk") {
            a.chunk = parse_int(v, key, 0, INT32_MAX);
        } else if (key == "start_line") {
            a.start_line = parse_int(v, key, 1, INT32_MAX);
        } else if (key == "end_line") {
            a.end_line = parse_int(v, key, 1, INT32_MAX);
        } else {
            unknown(key, "chunk, start_line or end_line");
        }
    }
    line_range(a);
    return a;
}

void stats_args(const simdjson::dom::object& args) {
    for (const auto field : args) unknown(field.key, "none");
}

void stats_args(const Params& params) {
    for (const auto& kv : params) unknown(kv.first, "none");
}

std::string search_result(const Index& index, const SearchArgs& args) {
    const auto t0 = std::chrono::steady_clock::now();
    SearchStats stats;
    const auto hits = search(index, args.query, &stats);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    JsonWriter w;
    w.begin_object()
        .key("query")
        .value(args.query.text)
        .key("mode")
        .value(to_string(effective_mode(index, args.query)))
        .key("k")
        .value(args.query.k)
        .key("took_ms")
        .value(ms)
        .key("results")
        .begin_array();
    int rank = 0;
    for (const auto& h : hits) {
        w.begin_object();
        write_hit(w, h, ++rank, args.explain);
        w.end_object();
    }
    w.end_array();
    if (!stats.warnings.empty()) {
        w.key("warnings").begin_array();
        for (const auto& warning : stats.warnings) w.value(warning);
        w.end_array();
    }
    w.end_object();
    return w.take();
}

std::optional<std::string> get_result(const Index& index, const GetArgs& args) {
    std::optional<Document> doc = index.get(args.id);
    if (!doc) return std::nullopt;
    bool one_chunk = doc->one_chunk;
    if (args.chunk) {
        if (one_chunk) throw UsageError("give the chunk either as ID#N or as 'chunk', not both");
        std::optional<Chunk> found;
        for (auto& c : doc->chunks) {
            if (c.seq == *args.chunk) found = std::move(c);
        }
        if (!found) return std::nullopt;
        doc->text = found->text;
        doc->chunks = {std::move(*found)};
        one_chunk = true;
    }

    std::string_view text = doc->text;
    std::int64_t total = 0, first = 1, last = 0;
    const bool ranged = args.start_line || args.end_line;
    if (ranged) {
        // Lines end at '\n'; a final line without one still counts.
        std::vector<std::size_t> starts{0};
        for (std::size_t i = 0; i < text.size(); ++i) {
            if (text[i] == '\n' && i + 1 < text.size()) starts.push_back(i + 1);
        }
        total = text.empty() ? 0 : static_cast<std::int64_t>(starts.size());
        first = args.start_line.value_or(1);
        last = std::min(args.end_line.value_or(total), total);
        if (first > total) {
            throw UsageError(fmt::format("'start_line' {} is past the end of the text ({} line{})",
                                         first, total, total == 1 ? "" : "s"));
        }
        const std::size_t b = starts[static_cast<std::size_t>(first - 1)];
        const std::size_t e = last < total ? starts[static_cast<std::size_t>(last)] : text.size();
        text = text.substr(b, e - b);
    }

    const DocumentInfo& d = doc->info;
    JsonWriter w;
    w.begin_object();
    write_id(w, "id", d.id);
    w.key("title").value(d.title);
    write_id(w, "source", d.source);
    w.key("collection")
        .value(d.collection)
        .key("meta")
        .raw(d.meta.empty() ? "{}" : d.meta)
        .key("hash")
        .value(d.hash)
        .key("bytes")
        .value(d.bytes)
        .key("chunks")
        .value(d.chunks)
        .key("updated")
        .value(d.updated);
    if (one_chunk && !doc->chunks.empty()) {
        w.key("chunk")
            .value(doc->chunks.front().seq)
            .key("heading")
            .value(doc->chunks.front().heading);
    }
    if (ranged) {
        w.key("start_line")
            .value(first)
            .key("end_line")
            .value(last)
            .key("total_lines")
            .value(total);
    }
    w.key("text").value(text);
    if (!one_chunk) {
        w.key("chunk_list").begin_array();
        for (const auto& c : doc->chunks) {
            w.begin_object()
                .key("seq")
                .value(c.seq)
                .key("heading")
                .value(c.heading)
                .key("start")
                .value(c.start)
                .key("end")
                .value(c.end)
                .key("tokens")
                .value(c.tokens)
                .end_object();
        }
        w.end_array();
    }
    w.end_object();
    return w.take();
}

std::string stats_result(const Index& index) {
    return stats_json(index);
}

// The schemas. Outputs list the fields a client may rely on; inputs are strict, as the
// parsers above are.

// The schema states the limit check_query_length() applies.
static_assert(kMaxQueryBytes == 4096);

std::string_view search_input_schema() {
    return R"j({"type":"object","properties":{)j"
           R"j("query":{"type":"string","minLength":1,"maxLength":4096,"description":"Words, \"quoted phrases\", -excluded words, prefix*; the rest is literal"},)j"
           R"j("mode":{"type":"string","enum":["hybrid","bm25","vector"],"description":"Ranking: BM25, the embedder's vectors, or both fused (the index's default when absent)"},)j"
           R"j("k":{"type":"integer","minimum":1,"maximum":1000,"default":10,"description":"How many results"},)j"
           R"j("collection":{"type":"string","description":"Only this collection"},)j"
           R"j("where":{"type":"object","additionalProperties":{"type":"string"},"description":"Only documents whose metadata has these key/value pairs"},)j"
           R"j("path":{"type":"string","description":"Only documents whose path or id matches this glob"},)j"
           R"j("chunks":{"type":"boolean","default":false,"description":"One result per matching chunk instead of per document"},)j"
           R"j("explain":{"type":"boolean","default":false,"description":"Add each signal's rank and score"},)j"
           R"j("rerank":{"type":"string","description":"A reranking service that reorders the best results: URL?model=NAME (the server's default when absent; empty for none)"},)j"
           R"j("rerank_depth":{"type":"integer","minimum":1,"maximum":1000,"default":50,"description":"How many of the best results the reranker sees"})j"
           R"j(},"required":["query"],"additionalProperties":false})j";
}

std::string_view search_output_schema() {
    return R"j({"type":"object","properties":{)j"
           R"j("query":{"type":"string"},"mode":{"type":"string"},"k":{"type":"integer"},)j"
           R"j("took_ms":{"type":"number"},)j"
           R"j("results":{"type":"array","items":{"type":"object","properties":{)j"
           R"j("rank":{"type":"integer","minimum":1},)j"
           R"j("id":{"type":"string","description":"Pass to get. Ids that are not valid UTF-8 are escaped (\\ and \\xHH), with id_escaped true"},)j"
           R"j("id_escaped":{"type":"boolean"},)j"
           R"j("score":{"type":"number"},"title":{"type":"string"},)j"
           R"j("source":{"type":"string","description":"The file it was read from (empty for records from standard input), escaped as id is"},)j"
           R"j("source_escaped":{"type":"boolean"},)j"
           R"j("collection":{"type":"string"},)j"
           R"j("chunk":{"type":"integer","description":"The best (or the) matching chunk's position in the document, from 0"},)j"
           R"j("heading":{"type":"string"},"snippet":{"type":"string"},)j"
           R"j("highlights":{"type":"array","items":{"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":2}},)j"
           R"j("rerank":{"type":"number","description":"The reranking service's score, when it reordered this result"},)j"
           R"j("signals":{"type":"object","additionalProperties":{"type":"object","properties":{)j"
           R"j("rank":{"type":["integer","null"]},"score":{"type":["number","null"]}}}})j"
           R"j(},"required":["rank","id","score","title","source","collection","chunk","snippet"]}})j"
           R"j(,"warnings":{"type":"array","items":{"type":"string"},"description":"What failed without failing the search (a reranker that did not answer)"})j"
           R"j(},"required":["query","mode","results"]})j";
}

std::string_view get_input_schema() {
    return R"j({"type":"object","properties":{)j"
           R"j("id":{"type":"string","minLength":1,"description":"A document id (as search returns it), a file path, or ID#N for chunk N"},)j"
           R"j("chunk":{"type":"integer","minimum":0,"description":"Only chunk N of the document, from 0"},)j"
           R"j("start_line":{"type":"integer","minimum":1,"description":"First line to return, from 1"},)j"
           R"j("end_line":{"type":"integer","minimum":1,"description":"Last line to return (inclusive)"})j"
           R"j(},"required":["id"],"additionalProperties":false})j";
}

std::string_view get_output_schema() {
    return R"j({"type":"object","properties":{)j"
           R"j("id":{"type":"string"},"id_escaped":{"type":"boolean"},"title":{"type":"string"},)j"
           R"j("source":{"type":"string"},"source_escaped":{"type":"boolean"},)j"
           R"j("collection":{"type":"string"},"meta":{"type":"object"},"hash":{"type":"string"},)j"
           R"j("bytes":{"type":"integer"},"chunks":{"type":"integer"},"updated":{"type":"integer"},)j"
           R"j("chunk":{"type":"integer"},"heading":{"type":"string"},)j"
           R"j("start_line":{"type":"integer"},"end_line":{"type":"integer"},"total_lines":{"type":"integer"},)j"
           R"j("text":{"type":"string"},)j"
           R"j("chunk_list":{"type":"array","items":{"type":"object","properties":{)j"
           R"j("seq":{"type":"integer"},"heading":{"type":"string"},"start":{"type":"integer"},)j"
           R"j("end":{"type":"integer"},"tokens":{"type":"integer"}}}})j"
           R"j(},"required":["id","title","source","collection","text"]})j";
}

std::string_view stats_input_schema() {
    return R"j({"type":"object","properties":{},"additionalProperties":false})j";
}

std::string_view stats_output_schema() {
    return R"j({"type":"object","properties":{)j"
           R"j("index":{"type":"string"},"schema_version":{"type":"integer"},)j"
           R"j("documents":{"type":"integer"},"chunks":{"type":"integer"},)j"
           R"j("text_bytes":{"type":"integer"},"db_bytes":{"type":"integer"},"wal_bytes":{"type":"integer"},)j"
           R"j("created":{"type":"integer"},"updated":{"type":"integer"},)j"
           R"j("settings":{"type":"object"},"postings":{"type":"object"},"vectors":{"type":"object"},)j"
           R"j("collections":{"type":"object","additionalProperties":{"type":"integer"}})j"
           R"j(},"required":["documents","chunks","collections"]})j";
}

}  // namespace rk::serve
