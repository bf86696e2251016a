#include "rk/serve.hpp"

#include <simdjson.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "rk/error.hpp"
#include "rk/index.hpp"
#include "rk/ingest.hpp"
#include "serve/calls.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;

namespace {

using rk::test::TempDir;

// An index holding one Markdown file of four lines.
struct Fixture {
    TempDir tmp;
    fs::path file = tmp.path / "notes.md";
    fs::path dir = tmp.path / "idx";
    Fixture() {
        std::ofstream(file) << "# Notes\n\nretry with backoff\nlast line";
        auto index = rk::Index::create(dir, {});
        rk::IngestOptions o;
        o.paths = {file.string()};
        rk::ingest(index, o);
    }
};

simdjson::dom::object object(simdjson::dom::parser& parser, std::string_view json) {
    return parser.parse(json.data(), json.size()).get_object().value();
}

}  // namespace

TEST_CASE("search arguments from URL parameters", "[serve]") {
    const auto a = rk::serve::search_args(rk::serve::Params{
        {"q", "retry"}, {"k", "3"}, {"where", "lang=en"}, {"where", "x=a=b"}, {"chunks", ""}});
    CHECK(a.query.text == "retry");
    CHECK(a.query.k == 3);
    CHECK(a.query.chunks);
    CHECK_FALSE(a.explain);
    REQUIRE(a.query.where.size() == 2);
    CHECK(a.query.where[1] == std::pair<std::string, std::string>{"x", "a=b"});
    using P = rk::serve::Params;
    CHECK_THROWS_AS(rk::serve::search_args(P{{"k", "3"}}), rk::UsageError);
    CHECK_THROWS_AS(rk::serve::search_args(P{{"q", " "}}), rk::UsageError);
    CHECK_THROWS_AS(rk::serve::search_args(P{{"q", "x"}, {"k", "1001"}}), rk::UsageError);
    CHECK_THROWS_AS(rk::serve::search_args(P{{"q", "x"}, {"k", "2x"}}), rk::UsageError);
    CHECK_THROWS_AS(rk::serve::search_args(P{{"q", "x"}, {"where", "=v"}}), rk::UsageError);
    CHECK_THROWS_AS(rk::serve::search_args(P{{"q", "x"}, {"mode", "fast"}}), rk::UsageError);
    CHECK_THROWS_AS(rk::serve::search_args(P{{"q", "x"}, {"limit", "3"}}), rk::UsageError);
}

TEST_CASE("search arguments from a JSON object", "[serve]") {
    simdjson::dom::parser parser;
    const auto a = rk::serve::search_args(object(
        parser, R"({"query":"retry","k":5.0,"mode":"bm25","where":{"lang":"en"},"explain":true})"));
    CHECK(a.query.k == 5);
    CHECK(a.query.mode == rk::SearchMode::bm25);
    CHECK(a.explain);
    CHECK(a.query.where.size() == 1);
    for (const char* bad : {R"({"query":3})", R"({"query":"x","k":2.5})", R"({"query":"x","k":-1})",
                            R"({"query":"x","where":{"a":1}})", R"({"query":"x","chunks":"yes"})",
                            R"({"k":3})", R"({"query":"x","extra":null})"}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(rk::serve::search_args(object(parser, bad)), rk::UsageError);
    }
}

TEST_CASE("get: line ranges", "[serve]") {
    Fixture f;
    const auto index = rk::Index::open(f.dir, rk::Index::Mode::read);
    simdjson::dom::parser parser;
    auto get = [&](std::string_view args) {
        auto a = rk::serve::get_args(object(parser, args));
        auto r = rk::serve::get_result(index, a);
        REQUIRE(r);
        return object(parser, *r);
    };
    const std::string id = f.file.string();
    auto doc = get(R"({"id":")" + id + R"(","start_line":3,"end_line":4})");
    CHECK(std::string_view(doc["text"]) == "retry with backoff\nlast line");
    CHECK(int64_t(doc["total_lines"]) == 4);
    doc = get(R"({"id":")" + id + R"(","start_line":4,"end_line":400})");
    CHECK(std::string_view(doc["text"]) == "last line");
    CHECK(int64_t(doc["end_line"]) == 4);
    CHECK_THROWS_AS(rk::serve::get_result(index, rk::serve::get_args(id, {{"start_line", "5"}})),
                    rk::UsageError);
    CHECK_THROWS_AS(rk::serve::get_args(id, {{"start_line", "3"}, {"end_line", "2"}}),
                    rk::UsageError);
    CHECK_FALSE(rk::serve::get_result(index, rk::serve::get_args("nope", {})));
    CHECK_FALSE(rk::serve::get_result(index, rk::serve::get_args(id, {{"chunk", "9"}})));
}

TEST_CASE("serve_mcp answers each request on its own line", "[serve]") {
    Fixture f;
    std::istringstream in(
        R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}})"
        "\n"
        R"({"jsonrpc":"2.0","method":"notifications/initialized"})"
        "\n\n{oops\n"
        R"({"jsonrpc":"2.0","id":"s","method":"tools/call","params":{"name":"search","arguments":{"query":"backoff","mode":"bm25"}}})"
        "\n");
    std::ostringstream out;
    rk::serve_mcp(f.dir, in, out, nullptr);
    std::istringstream lines(out.str());
    std::vector<std::string> replies;
    for (std::string line; std::getline(lines, line);) replies.push_back(line);
    REQUIRE(replies.size() == 3);
    simdjson::dom::parser parser;
    auto init = object(parser, replies[0]);
    CHECK(std::string_view(init["result"]["protocolVersion"]) == "2025-11-25");
    auto err = object(parser, replies[1]);
    CHECK(int64_t(err["error"]["code"]) == -32700);
    auto res = object(parser, replies[2]);
    CHECK(std::string_view(res["id"]) == "s");
    CHECK_FALSE(bool(res["result"]["isError"]));
    CHECK(std::string_view(res["result"]["structuredContent"]["results"].at(0)["id"]) ==
          f.file.string());
}

TEST_CASE("serve_mcp and serve_http need an index", "[serve]") {
    TempDir tmp;
    std::istringstream in;
    std::ostringstream out;
    CHECK_THROWS_AS(rk::serve_mcp(tmp.path / "none", in, out, nullptr), rk::IndexError);
    CHECK_THROWS_AS(rk::serve_http(tmp.path / "none", {}, [](const std::string&) {}),
                    rk::IndexError);
    CHECK(out.str().empty());
}
