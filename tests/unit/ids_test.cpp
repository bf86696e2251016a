#include "rk/ids.hpp"

#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "rk/json.hpp"

using rk::escape_id;
using rk::unescape_id;

TEST_CASE("plain ids print as they are", "[ids]") {
    for (const std::string id : {"/home/u/notes/a.md", "doc-17", "caf\xC3\xA9 #2", "-1", "a#3",
                                 "\xE2\x82\xAC", "My Notes/a.md"}) {
        CHECK(escape_id(id) == id);
        CHECK_FALSE(rk::id_needs_escape(id));
        CHECK(unescape_id(id) == id);
    }
}

TEST_CASE("escapes: backslash, tab, newline, CR, control and ill-formed bytes", "[ids]") {
    CHECK(escape_id("a\\b") == "a\\\\b");
    CHECK(escape_id("a\tb\nc\rd") == "a\\tb\\nc\\rd");
    CHECK(escape_id(std::string("nul\0bell\adel\x7f", 13)) == "nul\\x00bell\\x07del\\x7f");
    CHECK(escape_id("caf\xE9.md") == "caf\\xe9.md");
    CHECK(escape_id("\xC3\xA9\xC3") == "\xC3\xA9\\xc3");    // a truncated sequence
    CHECK(escape_id("\xED\xA0\x80") == "\\xed\\xa0\\x80");  // a surrogate is ill-formed
    CHECK(escape_id("My Notes/a.md") == "My Notes/a.md");   // spaces only in TREC
    CHECK(escape_id("My Notes/a.md", true) == "My\\x20Notes/a.md");
    CHECK(rk::id_needs_escape("My Notes", true));
    CHECK(rk::id_needs_escape("caf\xE9"));
}

TEST_CASE("unescaping inverts escaping and refuses what it never prints", "[ids]") {
    CHECK(unescape_id("a\\\\b") == "a\\b");
    CHECK(unescape_id("My\\x20Notes\\tx") == "My Notes\tx");
    CHECK(unescape_id("\\xE9\\xe9") == "\xE9\xE9");
    CHECK_FALSE(unescape_id("C:\\docs"));  // \d is no escape: a literal backslash
    CHECK_FALSE(unescape_id("trailing\\"));
    CHECK_FALSE(unescape_id("\\x4"));
    CHECK_FALSE(unescape_id("\\xg0"));
    // Every byte string comes back exactly, with or without spaces escaped.
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> byte(0, 255), len(0, 24);
    for (int round = 0; round < 5000; ++round) {
        std::string id;
        const int n = len(rng);
        for (int i = 0; i < n; ++i) id.push_back(static_cast<char>(byte(rng)));
        for (const bool space : {false, true}) {
            const std::string printed = escape_id(id, space);
            REQUIRE(unescape_id(printed) == id);
            CHECK(rk::id_needs_escape(id, space) == (printed != id));
            // Nothing a line format splits at survives.
            CHECK(printed.find_first_of(space ? "\t\n\r " : "\t\n\r") == std::string::npos);
        }
    }
}

TEST_CASE("JSON carries UTF-8 ids as they are and others escaped, with a flag", "[ids]") {
    rk::JsonWriter w;
    w.begin_object();
    rk::write_id(w, "id", "tab\there \\ caf\xC3\xA9");
    w.end_object();
    CHECK(w.str() == R"({"id":"tab\there \\ caf)"
                     "\xC3\xA9"
                     R"("})");
    rk::JsonWriter bad;
    bad.begin_object();
    rk::write_id(bad, "source", "caf\xE9.md");
    bad.end_object();
    CHECK(bad.str() == R"({"source":"caf\\xe9.md","source_escaped":true})");
    rk::JsonWriter nul;
    rk::write_id(nul.begin_object(), "id", std::string("x\0y", 3));
    nul.end_object();
    CHECK(nul.str() == R"({"id":"x\\x00y","id_escaped":true})");
}
