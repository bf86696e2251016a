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
    CHECK(format_for("corpus.jsonl") == Format::jsonl);
    CHECK(format_for("x.ndjson") == Format::jsonl);
    CHECK(format_for("x.json") == Format::json);
    CHECK(format_for("x.txt") == Format::document);
    CHECK(format_for("a/README.md") == Format::document);
}

TEST_CASE("readers are chosen by file name, then by content", "[readers]") {
    CHECK(reader_for("a/README.md", "").name() == "markdown");
    CHECK(reader_for("notes.MARKDOWN", "<html>").name() == "markdown");
    CHECK(reader_for("x.txt", "plain").name() == "text");
    CHECK(reader_for("Makefile", "all:").name() == "code");
    CHECK(reader_for("Procfile", "web: run").name() == "text");
    CHECK(reader_for("page.HTM", "").name() == "html");
    CHECK(reader_for("page.xhtml", "<?xml version=\"1.0\"?>").name() == "html");
    // No telling name: the first tag decides.
    CHECK(reader_for("saved", "\n  <!DOCTYPE html><p>x").name() == "html");
    CHECK(reader_for("", "<HTML lang=en>").name() == "html");
    CHECK(reader_for("page.txt", "<html>").name() == "html");
    CHECK(reader_for("", "<p>not a page</p>").name() == "text");
    CHECK(reader_for("Report.DOCX", "").name() == "docx");
    CHECK(reader_for("book.epub", "").name() == "epub");
    CHECK(reader_for("upload", std::string("PK\x03\x04", 4) + std::string(26, 'x') +
                                   "mimetypeapplication/epub+zip")
              .name() == "epub");
    CHECK(reader_for("upload", "PK\x03\x04 short").name() == "text");
    CHECK(reader_for("upload", "PK").name() == "text");
    // A name that says something else wins over content.
    CHECK(reader_for("template.c", "<html>").name() == "code");
}

namespace {

std::string segment_text(const std::string& text, const Segment& s) {
    return text.substr(s.start, s.end - s.start);
}

}  // namespace

TEST_CASE("html: visible text, title, headings, entities; scripts and nav left out", "[readers]") {
    std::string t =
        "<!DOCTYPE html><html lang=\"en\"><head><title> The  Guide </title>"
        "<meta name=\"Description\" content=\"How to  install\">"
        "<style>p { color: red }</style><script>var secret = 1;</script></head><body>"
        "<nav><a href=/>Home</a></nav>"
        "<h1>Guide</h1><p>Intro &amp; <b>bold</b>\n   text&nbsp;here.</p>"
        "<h2>Install <code>rk</code></h2><ul><li>one</li><li>two</li></ul>"
        "<div hidden>invisible</div><span style=\"display: none\">gone</span>"
        "<pre>  keep\n    spacing</pre>"
        "<table><tr><td>a</td><td>b</td></tr></table>"
        "<h2>Other</h2><p>line<br>break</p>"
        "</body></html>";
    const auto p = read_html(t);
    CHECK(p.title == "The Guide");
    CHECK(p.meta == std::vector<std::pair<std::string, std::string>>{
                        {"lang", "en"}, {"description", "How to install"}});
    CHECK(t.find("secret") == std::string::npos);
    CHECK(t.find("color") == std::string::npos);
    CHECK(t.find("Home") == std::string::npos);
    CHECK(t.find("invisible") == std::string::npos);
    CHECK(t.find("gone") == std::string::npos);
    CHECK(t.find('<') == std::string::npos);
    std::vector<std::string> texts, headings;
    for (const auto& s : p.segments) {
        texts.push_back(segment_text(t, s));
        headings.push_back(s.heading);
    }
    CHECK(texts == std::vector<std::string>{"Guide", "Intro & bold text here.", "Install rk", "one",
                                            "two", "  keep\n    spacing", "a b", "Other",
                                            "line\nbreak"});
    CHECK(headings == std::vector<std::string>{"Guide", "Guide", "Guide > Install rk",
                                               "Guide > Install rk", "Guide > Install rk",
                                               "Guide > Install rk", "Guide > Install rk",
                                               "Guide > Other", "Guide > Other"});
    CHECK(p.segments[0].section_start);
    CHECK_FALSE(p.segments[1].section_start);
}

TEST_CASE("html: the first h1 is the title when there is no <title>; broken markup reads",
          "[readers]") {
    std::string t = "<p>before<h1>Main <i>Title</i></h1><p>unclosed <b>bold <div>x";
    const auto p = read_html(t);
    CHECK(p.title == "Main Title");
    CHECK(t == "before\n\nMain Title\n\nunclosed bold\n\nx");
    std::string empty = "<html><script>only()</script></html>";
    CHECK(read_html(empty).segments.empty());
    CHECK(empty.empty());
}

TEST_CASE("html: deep nesting is read without deep recursion, too deep is refused", "[readers]") {
    std::string t;
    for (int i = 0; i < 4000; ++i) t += "<span class='a>b'>";
    t += "deep";
    const auto p = read_html(t);
    CHECK(t == "deep");
    CHECK(p.segments.size() == 1);
    // Elements closed as they go, implied ends, void elements, self-closed SVG elements,
    // comments and scripts do not count; elements left open do.
    std::string flat = "<!-- <div><div> --><svg>";
    for (int i = 0; i < 20000; ++i) flat += "<path d='M0'/>";
    flat += "</svg>";
    for (int i = 0; i < 20000; ++i) flat += "<div><p>x<br><li>y<img src=a><a href=b>c</div>";
    flat += "<script>" + std::string(5000, '<') + "div></script>";
    CHECK_NOTHROW(read_html(flat));
    for (const char* open : {"<div>", "<b/>", "<ul><li>"}) {
        std::string deep;
        for (int i = 0; i < 5000; ++i) deep += open;
        CHECK_THROWS_WITH(read_html(deep), Catch::Contains("nested more than 4096 deep"));
    }
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

TEST_CASE("records: a null, empty or blank id is no id, and says so", "[records]") {
    RecordParser parser;
    const RecordFields fields;
    for (const char* json : {R"({"_id":null,"text":"t"})", R"({"_id":"","text":"t"})",
                             R"({"_id":" \t\n","text":"t"})"}) {
        const auto r = parser.parse_object(json, fields, {});
        CHECK(r.id.empty());
        CHECK(r.blank_id);
    }
    const auto missing = parser.parse_object(R"({"text":"t"})", fields, {});
    CHECK(missing.id.empty());
    CHECK_FALSE(missing.blank_id);
    const auto zero = parser.parse_object(R"({"_id":0,"text":"t"})", fields, {});
    CHECK(zero.id == "0");
    CHECK_FALSE(zero.blank_id);
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
