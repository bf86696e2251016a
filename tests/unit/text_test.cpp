#include <catch2/catch.hpp>
#include <filesystem>

#include "rk/json.hpp"
#include "text/utf8.hpp"
#include "util/glob.hpp"

using rk::text::utf8_first_invalid;
using rk::text::utf8_repair;

TEST_CASE("valid UTF-8 passes untouched", "[text]") {
    std::string s = "plain ascii, caf\xC3\xA9, \xE2\x82\xAC, \xF0\x9F\x98\x80";
    CHECK_FALSE(utf8_first_invalid(s).has_value());
    CHECK(utf8_repair(s) == 0);
}

TEST_CASE("ill-formed UTF-8 is found and replaced", "[text]") {
    struct Case {
        std::string in;
        std::size_t first_bad;
        std::string out;
    };
    const std::vector<Case> cases = {
        {"ab\xFF"
         "cd",
         2,
         "ab\xEF\xBF\xBD"
         "cd"},                                                         // never valid
        {"\xC0\xAF", 0, "\xEF\xBF\xBD\xEF\xBF\xBD"},                    // overlong '/'
        {"x\xED\xA0\x80", 1, "x\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},  // surrogate
        {"end\xE2\x82", 3, "end\xEF\xBF\xBD\xEF\xBF\xBD"},              // truncated
        {"\x80", 0, "\xEF\xBF\xBD"},                                    // stray continuation
        {"\xF4\x90\x80\x80", 0, std::string(4 * 3, ' ')},               // above U+10FFFF
    };
    for (auto c : cases) {
        CAPTURE(c.in);
        REQUIRE(utf8_first_invalid(c.in) == c.first_bad);
        utf8_repair(c.in);
        CHECK_FALSE(utf8_first_invalid(c.in).has_value());
        if (c.out.find(' ') == std::string::npos) CHECK(c.in == c.out);
    }
}

TEST_CASE("binary data is recognised by a NUL byte", "[text]") {
    CHECK(rk::text::looks_binary(std::string("PNG\0\0", 5)));
    CHECK_FALSE(rk::text::looks_binary("just text\n"));
}

TEST_CASE("JSON strings are escaped and never carry invalid UTF-8", "[json]") {
    rk::JsonWriter w;
    w.begin_object()
        .key("s")
        .value("quote\" slash\\ nl\n tab\t ctl\x01")
        .key("bad")
        .value(std::string_view("a\xFFz"))
        .key("n")
        .value(std::int64_t{-3})
        .key("list")
        .begin_array()
        .value(true)
        .null()
        .end_array()
        .end_object();
    CHECK(w.str() == R"({"s":"quote\" slash\\ nl\n tab\t ctl\u0001","bad":"a)"
                     "\xEF\xBF\xBD"
                     R"(z","n":-3,"list":[true,null]})");
}

TEST_CASE("globs", "[glob]") {
    using rk::util::glob_match;
    CHECK(glob_match("*.md", "readme.md"));
    CHECK_FALSE(glob_match("*.md", "docs/readme.md"));
    CHECK(glob_match("docs/*.md", "docs/readme.md"));
    CHECK(glob_match("**/*.md", "readme.md"));
    CHECK(glob_match("**/*.md", "a/b/c/readme.md"));
    CHECK(glob_match("a/**/z", "a/z"));
    CHECK(glob_match("a/**/z", "a/b/c/z"));
    CHECK(glob_match("file?.txt", "file1.txt"));
    CHECK_FALSE(glob_match("file?.txt", "file10.txt"));
    CHECK(glob_match("[abc]*", "banana"));
    CHECK_FALSE(glob_match("[!abc]*", "banana"));
    CHECK(glob_match("[a-c]x", "bx"));
    CHECK(glob_match("*", "a/b", false));
    CHECK_FALSE(glob_match("*", "a/b", true));
    CHECK(glob_match("[", "["));  // unterminated bracket is literal
    CHECK(glob_match("\\*", "*"));
    CHECK_FALSE(glob_match("**/", "b]"));  // a "**/" that read something owes its '/'
    CHECK(glob_match("**/", "a/b/"));
    CHECK(glob_match("a/**\\/z", "a/z"));  // an escaped '/' is a '/'
}

TEST_CASE("glob matching takes time linear in the text, whatever the stars", "[glob]") {
    // A backtracking matcher takes exponential time on these; they once hung `--path`.
    std::string many;
    for (int i = 0; i < 2000; ++i) many += "**/";
    const std::string path = "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/notes.md";
    CHECK_FALSE(rk::util::glob_match(many + "retry", path));
    CHECK(rk::util::glob_match(many + "notes.md", path));
    std::string stars;
    for (int i = 0; i < 2000; ++i) stars += "*a";
    CHECK_FALSE(rk::util::glob_match(stars + "b", std::string(4000, 'a')));
    CHECK_FALSE(rk::util::glob_match(stars + "b", std::string(4000, 'a'), false));
}

TEST_CASE("document globs match ids and paths, relative patterns from here", "[glob]") {
    const std::string here = std::filesystem::current_path().string();
    const rk::util::DocumentGlob rel("docs/*.md");
    CHECK(rel.matches(here + "/docs/a.md", here + "/docs/a.md"));
    CHECK_FALSE(rel.matches(here + "/other/a.md", here + "/other/a.md"));
    const rk::util::DocumentGlob ids("doc-1*");
    CHECK(ids.matches("doc-12", "/corpus.jsonl"));
    CHECK_FALSE(ids.matches("doc-2", "/corpus.jsonl"));
    CHECK(rk::util::DocumentGlob("*/corpus.jsonl").matches("x", "/data/corpus.jsonl"));
}
