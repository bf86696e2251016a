#include "rk/transfer.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ingest/readers.hpp"
#include "rk/error.hpp"
#include "rk/index.hpp"
#include "rk/ingest.hpp"
#include "temp_dir.hpp"
#include "transfer/format.hpp"

namespace fs = std::filesystem;
using rk::test::TempDir;
using rk::transfer::Line;
using rk::transfer::LineParser;

namespace {

std::string export_of(const rk::Index& index, const rk::ExportOptions& o = {}) {
    std::string out;
    (void)rk::export_jsonl(index, o, [&](std::string_view piece) { out += piece; });
    return out;
}

// The export without its first line (the header, which holds the time).
std::string records_of(const std::string& e) {
    return e.substr(e.find('\n') + 1);
}

rk::ImportReport import_into(rk::Index& index, const std::string& e) {
    std::istringstream in(e);
    const auto header = rk::read_export_header(in, "e.jsonl");
    return rk::import_jsonl(index, in, header, {"e.jsonl", 0, 1});
}

// Ingests `data` as a file named `name` (in `dir`), or as standard input when `name` is empty.
void ingest_text(rk::Index& index, const std::string& data, const std::string& collection,
                 const fs::path& dir = {}, const std::string& name = {}) {
    rk::IngestOptions o;
    o.collection = collection;
    o.jobs = 1;
    if (name.empty()) {
        o.paths = {"-"};
        o.stdin_data = data;
    } else {
        std::ofstream(dir / name, std::ios::binary) << data;
        o.paths = {(dir / name).string()};
    }
    (void)rk::ingest(index, o);
}

}  // namespace

TEST_CASE("base64 round-trips every length and refuses what it does not write", "[transfer]") {
    std::string bytes;
    for (int i = 0; i < 300; ++i) {
        bytes.push_back(static_cast<char>(i * 37));
        const auto back = rk::transfer::unbase64(rk::transfer::base64(bytes));
        REQUIRE(back);
        CHECK(*back == bytes);
    }
    CHECK(rk::transfer::base64("").empty());
    CHECK(rk::transfer::base64("f") == "Zg==");
    CHECK(rk::transfer::base64("foob") == "Zm9vYg==");
    CHECK(rk::transfer::base64("\xff\xfe") == "//4=");
    for (const char* bad : {"Zg=", "Z===", "Zg=a", "Zm9v YmE=", "Zh==", "Zm9=", "!!!!", "=AAA"}) {
        INFO(bad);
        CHECK_FALSE(rk::transfer::unbase64(bad));
    }
}

TEST_CASE("strings that are not UTF-8 are written as base64 under KEY_b64", "[transfer]") {
    rk::JsonWriter w;
    w.begin_object();
    rk::transfer::put_string(w, "id", "caf\xc3\xa9");
    rk::transfer::put_string(w, "source", "/a/\xe9t\xe9.txt");
    w.end_object();
    CHECK(w.str() == R"({"id":"café","source_b64":"L2Ev6XTpLnR4dA=="})");
    std::string line = R"({"id_b64":")" + rk::transfer::base64("x\xff\n\ty") +
                       R"(","text":"body","title_b64":")" + rk::transfer::base64("\xc0") +
                       R"(","chunks":[{"heading_b64":")" + rk::transfer::base64("h\x80") +
                       R"(","start":0,"end":4,"tokens":1}]})";
    LineParser parser;
    const Line l = parser.parse(line);
    CHECK(l.doc.ext_id == "x\xff\n\ty");
    CHECK(l.doc.title == "\xc0");
    REQUIRE(l.doc.chunks.size() == 1);
    CHECK(l.doc.chunks[0].heading == "h\x80");
    CHECK(l.doc.collection == "default");
    CHECK(l.doc.meta == "{}");
}

TEST_CASE("a record's metadata is kept as written, less white space", "[transfer]") {
    LineParser parser;
    std::string line = R"({"id":"a","meta":{ "k" : [1, 2.50, "x\u0001\b y"], "n":{} },"text":"t"})";
    CHECK(parser.parse(line).doc.meta == R"({"k":[1,2.50,"x\u0001\b y"],"n":{}})");
}

TEST_CASE("bad records are refused with what is wrong", "[transfer]") {
    LineParser parser;
    const std::pair<const char*, const char*> cases[] = {
        {R"({"text":"t"})", "no 'id'"},
        {R"({"id":"a"})", "no 'text'"},
        {R"({"id":"","text":"t"})", "'id' is empty"},
        {R"({"id":"a","id_b64":"YQ==","text":"t"})", "given twice"},
        {R"({"id":"a","text":"t","colour":"red"})", "unknown field 'colour'"},
        {R"({"id":"a","text":"t","hash_b64":"YQ=="})", "unknown field 'hash_b64'"},
        {R"({"id":1,"text":"t"})", "must be a string"},
        {R"({"id":"a","text": })", "invalid JSON"},
        {R"({"id":"a","text":"t","chunks":[{"start":0,"end":1,"tokens":-1}]})", "negative"},
        {R"({"id_b64":"*","text":"t"})", "not base64"},
        {R"({"id":"a","text":"t","meta":[1]})", "'meta' must be a JSON object"},
        {R"({"id":"a","text":"t","updated":"now"})", "must be an integer"},
        {R"({"id":"a","text":"t","chunks":[]})", "'chunks' is empty"},
        {R"({"id":"a","text":"t","chunks":[{"start":0,"tokens":1}]})", "has no 'end'"},
        {R"({"id":"a","text":"t","chunks":[{"start":0,"end":1,"tokens":1,"size":3}]})",
         "unknown field 'size' of chunk 0"},
        {R"({"id":"a","text":"t"} {"id":"b","text":"u"})", "more after"},
        {R"({"id":"a","text":"t",})", "invalid JSON"},
        {R"(["id","a"])", "must be a JSON object"},
        {R"({"rk_export_end":{}})", "does not count"},
        {R"({"rk_export_end":{"documents":1},"id":"a"})", "document fields"},
    };
    for (const auto& [json, mention] : cases) {
        INFO(json);
        std::string line = json;
        try {
            (void)parser.parse(line);
            FAIL("accepted");
        } catch (const rk::InputError& e) {
            CHECK_THAT(e.what(), Catch::Matchers::Contains(mention));
        }
    }
}

TEST_CASE("chunks are byte ranges of the text on character boundaries", "[transfer]") {
    LineParser parser;
    std::string line = R"({"id":"a","text":"é t","chunks":[{"start":0,"end":2,"tokens":1},)"
                       R"({"start":3,"end":4,"tokens":1}]})";
    Line l = parser.parse(line);
    rk::transfer::take_chunks(l.doc);
    CHECK(l.doc.chunks[0].text == "é");
    CHECK(l.doc.chunks[1].text == "t");
    for (const auto& [start, end] : {std::pair{0, 1}, {1, 2}, {0, 5}, {3, 2}, {-1, 2}}) {
        INFO(start << ".." << end);
        auto doc = l.doc;
        doc.chunks[0].start = start;
        doc.chunks[0].end = end;
        CHECK_THROWS_AS(rk::transfer::take_chunks(doc), rk::InputError);
    }
}

TEST_CASE("a record cut short anywhere is refused, never half read", "[transfer]") {
    const std::string whole =
        R"({"id":"a\"b","collection":"c","source":"/s","title":"T","meta":{"k":"v","n":[1,{}]},)"
        R"("hash":"00","updated":5,"text":"some text here","chunks":[{"heading":"H","start":0,)"
        R"("end":4,"tokens":1,"vector":"AAAA"},{"heading":"","start":5,"end":14,"tokens":2}]})";
    LineParser parser;
    {
        std::string line = whole;
        const Line l = parser.parse(line);
        CHECK(l.doc.ext_id == "a\"b");
        CHECK(l.doc.updated == 5);
        CHECK(l.doc.meta == R"({"k":"v","n":[1,{}]})");
        REQUIRE(l.doc.chunks.size() == 2);
        CHECK(l.doc.chunks[0].vector.encoded == std::string(3, '\0'));
        CHECK(l.doc.chunks[1].end == 14);
        CHECK(l.hash == "00");
    }
    for (std::size_t n = 0; n < whole.size(); ++n) {
        INFO(n);
        std::string line = whole.substr(0, n);
        CHECK_THROWS_AS(parser.parse(line), rk::InputError);
    }
}

TEST_CASE("a header says the format, and a newer one is refused", "[transfer]") {
    rk::Settings s;
    s.tokenizer = "unicode";
    s.chunk_size = 128;
    s.chunk_overlap = 16;
    rk::ExportOptions o;
    o.collection = "n\xffotes";
    o.chunks = true;
    o.vectors = true;
    const std::string line = rk::transfer::header_line(s, 4096, "2026-01-02T03:04:05Z", o);
    std::istringstream in(line + "\n{\"id\":\"a\"}\n");
    const rk::ExportHeader h = rk::read_export_header(in, "x");
    CHECK(h.format == rk::kExportFormat);
    CHECK(h.settings == s);
    CHECK(h.exported == "2026-01-02T03:04:05Z");
    CHECK(h.collection == "n\xffotes");
    CHECK(h.chunks);
    CHECK(h.vectors);
    CHECK(h.bytes == static_cast<std::int64_t>(line.size() + 1));
    CHECK(in.get() == '{');

    auto header_error = [](const std::string& text) -> std::string {
        std::istringstream bad(text);
        try {
            (void)rk::read_export_header(bad, "x");
        } catch (const rk::InputError& e) {
            CHECK(e.where() == "x:1");
            return e.what();
        }
        return "accepted";
    };
    CHECK_THAT(header_error(R"({"rk_export":2,"settings":{}})"),
               Catch::Matchers::Contains("newer than this rk reads"));
    CHECK_THAT(header_error(""), Catch::Matchers::Contains("empty input"));
    CHECK_THAT(header_error("{\"id\":\"a\",\"text\":\"t\"}\n"),
               Catch::Matchers::Contains("not an rk export"));
    CHECK_THAT(header_error(std::string(2 << 20, 'x')), Catch::Matchers::Contains("no header"));
    CHECK_THAT(header_error(R"({"rk_export":1})"), Catch::Matchers::Contains("no settings"));
}

TEST_CASE("stored segments: a reader's when it reads the text as it is", "[transfer]") {
    const std::string md = "# A\n\nintro\n\n## B\n\nbody\n";
    const auto segments = rk::inputs::stored_segments("/x/notes.md", "/x/notes.md", md);
    REQUIRE(!segments.empty());
    CHECK(segments.back().heading == "A > B");
    // HTML's text is what its reader made of the markup, which is gone: paragraphs.
    for (const auto& s : rk::inputs::stored_segments("/x/p.html", "/x/p.html", md)) {
        CHECK(s.heading.empty());
    }
    // Records are cut at paragraphs, whatever their text looks like.
    for (const auto& s : rk::inputs::stored_segments("7", "/x/c.jsonl", md)) {
        CHECK(s.heading.empty());
    }
    // Standard input's text was read as plain text (Markdown is told by a file's name).
    CHECK(rk::inputs::stored_segments("stdin:00", "", md).size() ==
          rk::inputs::read_text(md).segments.size());
}

TEST_CASE("export and import round-trip an index, and an import resumes", "[transfer]") {
    TempDir tmp;
    rk::Settings s;
    s.chunk_size = 32;
    s.chunk_overlap = 4;
    auto a = rk::Index::create(tmp.path / "a", s);
    std::string long_text;
    for (int i = 0; i < 200; ++i) long_text += "word" + std::to_string(i) + (i % 50 ? " " : "\n\n");
    ingest_text(a, "# Heading\n\nfirst note\n\n## Sub\n\n" + long_text, "notes", tmp.path,
                "note.md");
    ingest_text(a,
                "{\"_id\":\"r1\",\"text\":\"a record\",\"lang\":\"en\"}\n"
                "{\"_id\":\"r2\",\"text\":\"another record\"}\n",
                "records");
    rk::ExportOptions all;
    all.vectors = true;
    const std::string first = export_of(a, all);

    auto b = rk::Index::create(tmp.path / "b", s);
    const auto report = import_into(b, first);
    CHECK(report.documents.added == 3);
    CHECK(report.vectors_embedded == 0);
    CHECK(report.vectors_kept == report.chunks_kept);
    CHECK(report.chunks_kept == report.documents.chunks);
    CHECK(records_of(export_of(b, all)) == records_of(first));
    CHECK(b.verify().ok);

    rk::ExportOptions notes;
    notes.collection = "notes";
    const std::string only = export_of(a, notes);
    CHECK(only.find("\"r1\"") == std::string::npos);
    CHECK(only.find("\"documents\":1}") != std::string::npos);

    // Cut short after the first record: that one is imported, a rerun adds the rest.
    const std::size_t second_record = first.find('\n', first.find('\n') + 1) + 1;
    auto c = rk::Index::create(tmp.path / "c", s);
    CHECK_THROWS_AS(import_into(c, first.substr(0, second_record + 20)), rk::InputError);
    CHECK(c.list().size() == 1);
    const auto again = import_into(c, first);
    CHECK(again.documents.unchanged == 1);
    CHECK(again.documents.added == 2);
    CHECK(records_of(export_of(c, all)) == records_of(first));

    // Another chunk size: cut again, Markdown at its headings as rk ingest cut it.
    rk::Settings other = s;
    other.chunk_size = 64;
    auto d = rk::Index::create(tmp.path / "d", other);
    const auto recut = import_into(d, first);
    CHECK(recut.chunks_kept == 0);
    CHECK(recut.vectors_embedded == recut.documents.chunks);
    const auto doc = d.get(a.list().front().id);
    REQUIRE(doc);
    CHECK(doc->chunks.back().heading == "Heading > Sub");
}
