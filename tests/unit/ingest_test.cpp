#include <catch2/catch.hpp>

#include "ingest/chunker.hpp"
#include "ingest/readers.hpp"
#include "ingest/records.hpp"
#include "rk/error.hpp"

using namespace rk::inputs;

namespace {

std::string words(int n, const char* stem = "w") {
    std::string s;
    for (int i = 0; i < n; ++i) {
        if (i > 0) s += ' ';
        s.append(stem);
        s.append(std::to_string(i));
    }
    return s;
}

bool is_boundary(const std::string& text, std::int64_t at) {
    return at <= 0 || at >= static_cast<std::int64_t>(text.size()) ||
           std::isspace(static_cast<unsigned char>(text[static_cast<std::size_t>(at)])) ||
           std::isspace(static_cast<unsigned char>(text[static_cast<std::size_t>(at - 1)]));
}

}  // namespace

TEST_CASE("formats are chosen by file name", "[readers]") {
    CHECK(format_for("a/README.md") == Format::markdown);
    CHECK(format_for("notes.MARKDOWN") == Format::markdown);
    CHECK(format_for("corpus.jsonl") == Format::jsonl);
    CHECK(format_for("x.ndjson") == Format::jsonl);
    CHECK(format_for("x.json") == Format::json);
    CHECK(format_for("x.txt") == Format::text);
    CHECK(format_for("Makefile") == Format::text);
}

TEST_CASE("plain text splits into paragraphs", "[readers]") {
    const std::string t = "first para\nstill first\n\n\nsecond\n  \nthird";
    const auto p = read_text(t);
    REQUIRE(p.segments.size() == 3);
    CHECK(t.substr(p.segments[0].start, p.segments[0].end - p.segments[0].start) ==
          "first para\nstill first");
    CHECK(t.substr(p.segments[2].start) == "third");
    CHECK(p.title.empty());
}

TEST_CASE("markdown: front matter title, heading paths, code fences", "[readers]") {
    const std::string t =
        "---\ntitle: \"The Guide\"\nauthor: Ann\n---\n"
        "# Guide\n\nIntro text.\n\n## Install\n\nRun it.\n\n```sh\n# not a heading\n```\n\n"
        "Setext\n------\n\nbody\n";
    const auto p = read_markdown(t);
    CHECK(p.title == "The Guide");
    REQUIRE(p.meta.size() == 1);
    CHECK(p.meta[0] == std::make_pair(std::string("author"), std::string("Ann")));
    std::vector<std::string> headings;
    for (const auto& s : p.segments) {
        if (s.section_start) headings.push_back(s.heading);
    }
    CHECK(headings == std::vector<std::string>{"Guide", "Guide > Install", "Guide > Setext"});
    bool code_seen = false;
    for (const auto& s : p.segments) {
        const auto text = t.substr(s.start, s.end - s.start);
        if (text.find("# not a heading") != std::string::npos) {
            code_seen = true;
            CHECK_FALSE(s.section_start);
            CHECK(s.heading == "Guide > Install");
        }
    }
    CHECK(code_seen);
}

TEST_CASE("markdown without front matter takes its first heading as title", "[readers]") {
    CHECK(read_markdown("text first\n\n## Second level\n\n# Top\n").title == "Second level");
    CHECK(read_markdown("no headings at all").title.empty());
}

TEST_CASE("chunks hold at most `size` tokens and never split a word", "[chunker]") {
    const std::string t = words(100);
    const auto p = read_text(t);
    const auto chunks = make_chunks(t, p.segments, 16, 4);
    REQUIRE(chunks.size() > 5);
    for (std::size_t i = 0; i < chunks.size(); ++i) {
        CHECK(chunks[i].tokens <= 16);
        CHECK(is_boundary(t, chunks[i].start));
        CHECK(is_boundary(t, chunks[i].end));
        if (i > 0) CHECK(chunks[i].start < chunks[i - 1].end);  // overlap inside a paragraph
    }
    CHECK(chunks.front().start == 0);
    CHECK(chunks.back().end == static_cast<std::int64_t>(t.size()));
}

TEST_CASE("long paragraphs are cut at sentence ends when one is near", "[chunker]") {
    std::string t = words(12, "a") + ". " + words(30, "b");
    const auto p = read_text(t);
    const auto chunks = make_chunks(t, p.segments, 16, 2);
    REQUIRE(chunks.size() >= 2);
    CHECK(chunks[0].text.back() == '.');
    CHECK(chunks[0].tokens == 12);
}

TEST_CASE("short paragraphs are packed together; headings start chunks", "[chunker]") {
    const std::string t = "# A\n\none two three\n\nfour five\n\n# B\n\nsix seven\n";
    const auto p = read_markdown(t);
    const auto chunks = make_chunks(t, p.segments, 64, 8);
    REQUIRE(chunks.size() == 2);
    CHECK(chunks[0].heading == "A");
    CHECK(chunks[0].text == "# A\n\none two three\n\nfour five");
    CHECK(chunks[1].heading == "B");
    CHECK(chunks[1].text.find("one") == std::string::npos);
}

TEST_CASE("a document without words still gets one chunk", "[chunker]") {
    const auto chunks = make_chunks("", {}, 64, 8);
    REQUIRE(chunks.size() == 1);
    CHECK(chunks[0].tokens == 0);
}

TEST_CASE("records: fields, metadata, types", "[records]") {
    RecordParser parser;
    const RecordFields fields;
    const auto r = parser.parse_object(
        R"({"_id":"d1","title":"T","text":"body","metadata":{"url":"u"},"n":3})", fields,
        {{"src", "cli"}});
    CHECK(r.id == "d1");
    CHECK(r.title == "T");
    CHECK(r.text == "body");
    CHECK(r.meta == R"({"metadata":{"url":"u"},"n":3,"src":"cli"})");

    const auto numeric = parser.parse_object(R"({"_id":42,"text":null})", fields, {});
    CHECK(numeric.id == "42");
    CHECK(numeric.text.empty());

    const RecordFields custom{"docno", "headline", "body"};
    const auto c = parser.parse_object(R"({"docno":"x","headline":"h","body":"b"})", custom, {});
    CHECK((c.id == "x" && c.title == "h" && c.text == "b"));

    CHECK_THROWS_AS(parser.parse_object(R"({"_id":"d1","text":)", fields, {}), rk::InputError);
    CHECK_THROWS_AS(parser.parse_object(R"([1,2])", fields, {}), rk::InputError);
    CHECK_THROWS_AS(parser.parse_object(R"({"_id":[1],"text":"x"})", fields, {}), rk::InputError);
    CHECK_THROWS_AS(parser.parse_object(R"({"_id":"a","text":{"x":1}})", fields, {}),
                    rk::InputError);
}

TEST_CASE("JSON documents: arrays of records or one record", "[records]") {
    RecordParser parser;
    std::vector<std::string> ids;
    std::vector<std::size_t> bad;
    auto keep = [&](std::size_t, Record&& r) { ids.push_back(r.id); };
    auto complain = [&](std::size_t n, const char*) { bad.push_back(n); };
    parser.parse_document(R"([{"_id":"a","text":"x"},{"_id":"b","text":"y"}])", {}, {}, keep,
                          complain);
    CHECK(ids == std::vector<std::string>{"a", "b"});
    ids.clear();
    parser.parse_document(R"([{"_id":"a"}, 7, {"_id":"c"}])", {}, {}, keep, complain);
    CHECK(ids == std::vector<std::string>{"a", "c"});
    CHECK(bad == std::vector<std::size_t>{2});
    CHECK_THROWS_AS(parser.parse_document(R"([{"_id":"a"})", {}, {}, keep, complain),
                    rk::InputError);
}

TEST_CASE("a heading leads the first piece of a long section, never stands alone", "[chunker]") {
    const std::string t = "# Title words here\n\n" + words(40) + "\n";
    const auto p = read_markdown(t);
    const auto chunks = make_chunks(t, p.segments, 16, 2);
    REQUIRE(chunks.size() >= 3);
    CHECK(chunks[0].text.starts_with("# Title words here\n\nw0 "));
    CHECK(chunks[0].tokens == 16);
    for (const auto& c : chunks) CHECK(c.heading == "Title words here");
}
