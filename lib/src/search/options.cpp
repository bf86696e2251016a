// The query options that come in as text: the mode and the fusion spec.
#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <optional>

#include "rk/error.hpp"
#include "rk/ids.hpp"
#include "rk/search.hpp"

namespace rk {

namespace {

// Calls `set(key, value)` for each "key=value" of a comma-separated spec, and `flag(part)` for
// each part without '='; `what` names the spec in errors ("BM25 parameter").
template <typename Set, typename Flag>
void parse_settings(std::string_view spec, std::string_view what, std::string_view expected,
                    Set set, Flag flag) {
    std::size_t pos = 0;
    while (pos <= spec.size()) {
        const std::size_t comma = std::min(spec.find(',', pos), spec.size());
        const std::string_view part = spec.substr(pos, comma - pos);
        pos = comma + 1;
        if (part.empty()) continue;
        const std::size_t eq = part.find('=');
        if (eq == std::string_view::npos) {
            if (!flag(part))
                throw UsageError(fmt::format("bad {} '{}' (expected {})", what, part, expected));
            continue;
        }
        const std::string value(part.substr(eq + 1));
        double v = 0;
        const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
        const bool number =
            ec == std::errc() && end == value.data() + value.size() && std::isfinite(v) && v >= 0;
        if (!set(part.substr(0, eq), number ? std::optional<double>(v) : std::nullopt, part)) {
            throw UsageError(fmt::format("bad {} '{}' (expected {})", what, part, expected));
        }
    }
}

}  // namespace

Bm25Params parse_bm25_params(std::string_view spec, Bm25Params base) {
    parse_settings(
        spec, "BM25 parameter", "k1=, b=, title=, heading= or body=",
        [&](std::string_view key, std::optional<double> v, std::string_view part) {
            double* field = key == "k1"        ? &base.k1
                            : key == "b"       ? &base.b
                            : key == "title"   ? &base.title
                            : key == "heading" ? &base.heading
                            : key == "body"    ? &base.body
                                               : nullptr;
            if (field == nullptr) return false;
            if (!v || (key == "b" && *v > 1)) {
                throw UsageError(fmt::format("bad value in BM25 parameter '{}' (a number {})", part,
                                             key == "b" ? "from 0 to 1" : "of 0 or more"));
            }
            *field = *v;
            return true;
        },
        [](std::string_view) { return false; });
    return base;
}

Rm3Params parse_rm3_params(std::string_view spec, Rm3Params base) {
    parse_settings(
        spec, "RM3 parameter", "docs=, terms=, original= or max_df=",
        [&](std::string_view key, std::optional<double> v, std::string_view part) {
            const bool count = key == "docs" || key == "terms";
            const bool share = key == "original" || key == "max_df";
            if (!count && !share) return false;
            if (!v || (count && (*v < 1 || *v > 1000 || *v != std::floor(*v))) ||
                (share && *v > 1)) {
                throw UsageError(
                    fmt::format("bad value in RM3 parameter '{}' (a {})", part,
                                count ? "whole number from 1 to 1000" : "number from 0 to 1"));
            }
            if (key == "docs") base.docs = static_cast<int>(*v);
            if (key == "terms") base.terms = static_cast<int>(*v);
            if (key == "original") base.original = *v;
            if (key == "max_df") base.max_df = *v;
            return true;
        },
        [](std::string_view) { return false; });
    return base;
}

SearchMode parse_search_mode(std::string_view name) {
    if (name == "hybrid") return SearchMode::hybrid;
    if (name == "bm25") return SearchMode::bm25;
    if (name == "vector") return SearchMode::vector;
    throw UsageError(fmt::format("unknown mode '{}' (expected hybrid, bm25 or vector)", name));
}

std::string_view to_string(SearchMode mode) {
    switch (mode) {
        case SearchMode::hybrid:
            return "hybrid";
        case SearchMode::bm25:
            return "bm25";
        case SearchMode::vector:
            return "vector";
    }
    return "hybrid";
}

Query::VectorSearch parse_vector_search(std::string_view name) {
    if (name == "auto") return Query::VectorSearch::automatic;
    if (name == "exact") return Query::VectorSearch::exact;
    if (name == "hnsw") return Query::VectorSearch::graph;
    throw UsageError(
        fmt::format("unknown vector search '{}' (expected auto, exact or hnsw)", name));
}

Fusion parse_fusion(std::string_view spec, Fusion base) {
    parse_settings(
        spec, "fusion setting", "minmax, rrf, weighted, k=, bm25= or vector=",
        [&](std::string_view key, std::optional<double> v, std::string_view part) {
            if (key != "k" && key != "bm25" && key != "vector") return false;
            if (!v) {
                throw UsageError(
                    fmt::format("bad value in fusion setting '{}' (a number of 0 or more)", part));
            }
            if (key == "k") {
                base.k = *v;
            } else {
                (key == "bm25" ? base.bm25 : base.vector) = *v;
            }
            return true;
        },
        [&](std::string_view part) {
            if (part == "minmax") {
                base.method = Fusion::Method::minmax;
            } else if (part == "rrf") {
                base.method = Fusion::Method::rrf;
            } else if (part == "weighted") {
                base.method = Fusion::Method::weighted;
            } else {
                return false;
            }
            return true;
        });
    return base;
}

void check_query_length(std::string_view text, const std::string& where) {
    if (text.size() > kMaxQueryBytes) {
        throw UsageError(fmt::format("the query is longer than {} bytes ({} bytes)", kMaxQueryBytes,
                                     text.size()),
                         where);
    }
}

void write_hit(JsonWriter& w, const Hit& h, int rank, bool explain) {
    w.key("rank").value(rank);
    write_id(w, "id", h.id);
    w.key("score").value(h.score).key("title").value(h.title);
    write_id(w, "source", h.source);
    w.key("collection").value(h.collection).key("chunk").value(h.chunk);
    w.key("heading").value(h.heading).key("snippet").value(h.snippet);
    w.key("highlights").begin_array();
    for (const auto& [b, e] : h.highlights) {
        w.begin_array()
            .value(static_cast<std::int64_t>(b))
            .value(static_cast<std::int64_t>(e))
            .end_array();
    }
    w.end_array();
    if (h.rerank) w.key("rerank").value(*h.rerank);
    if (!explain) return;
    w.key("signals").begin_object();
    for (const auto& [name, s] : {std::pair{"bm25", h.bm25}, std::pair{"vector", h.vector}}) {
        w.key(name).begin_object().key("rank");
        if (s.rank > 0) {
            w.value(s.rank).key("score").value(s.score);
        } else {
            w.null().key("score").null();
        }
        w.end_object();
    }
    w.end_object();
}

}  // namespace rk
