#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>

#include "rk/error.hpp"
#include "rk/index.hpp"
#include "rk/ingest.hpp"
#include "rk/search.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;

namespace {

using rk::test::TempDir;

void write(const fs::path& p, const std::string& s) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << s;
}

void sql(const fs::path& db, const char* statement) {
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
    REQUIRE(sqlite3_exec(h, statement, nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(h);
}

}  // namespace

TEST_CASE("an index keeps its settings and refuses a second creation", "[store]") {
    TempDir tmp;
    const fs::path dir = tmp.path / "idx";
    rk::Settings s;
    s.tokenizer = "unicode";
    s.chunk_size = 64;
    s.chunk_overlap = 8;
    { auto index = rk::Index::create(dir, s); }
    const auto index = rk::Index::open(dir, rk::Index::Mode::read);
    CHECK(index.settings().tokenizer == "unicode");
    CHECK(index.settings().chunk_size == 64);
    CHECK_THROWS_AS(rk::Index::create(dir, s), rk::IndexError);
}

TEST_CASE("bad settings are refused at creation", "[store]") {
    TempDir tmp;
    rk::Settings s;
    s.tokenizer = "klingon";
    CHECK_THROWS_AS(rk::Index::create(tmp.path / "a", s), rk::UsageError);
    s = {};
    s.chunk_overlap = s.chunk_size;
    CHECK_THROWS_AS(rk::Index::create(tmp.path / "b", s), rk::UsageError);
}

TEST_CASE("opening checks presence, schema version and settings", "[store]") {
    TempDir tmp;
    CHECK_THROWS_AS(rk::Index::open(tmp.path / "none", rk::Index::Mode::read), rk::IndexError);
    const fs::path dir = tmp.path / "idx";
    { auto index = rk::Index::create(dir, {}); }
    sql(dir / "rk.db", "PRAGMA user_version = 99");
    CHECK_THROWS_WITH(rk::Index::open(dir, rk::Index::Mode::read), Catch::Contains("newer"));
    sql(dir / "rk.db", "PRAGMA user_version = 1");
    sql(dir / "rk.db", "UPDATE settings SET value='12x' WHERE key='chunk_size'");
    CHECK_THROWS_AS(rk::Index::open(dir, rk::Index::Mode::read), rk::IndexError);
}

TEST_CASE("a second writer waits, then fails; readers are not blocked", "[store]") {
    TempDir tmp;
    const fs::path dir = tmp.path / "idx";
    auto writer = rk::Index::create(dir, {});
    CHECK_THROWS_AS(rk::Index::open(dir, rk::Index::Mode::write, 100), rk::LockError);
    const auto reader = rk::Index::open(dir, rk::Index::Mode::read);
    CHECK(reader.stats().documents == 0);
}

TEST_CASE("resolution order: flag, RK_INDEX, nearest .rk, XDG", "[store]") {
    TempDir tmp;
    const fs::path project = tmp.path / "project";
    fs::create_directories(project / ".rk");
    fs::create_directories(project / "a" / "b");
    unsetenv("RK_INDEX");  // NOLINT(concurrency-mt-unsafe): tests are single-threaded
    CHECK(rk::resolve_index(fs::path("/x")).from == rk::IndexLocation::From::flag);
    const auto found = rk::resolve_index(std::nullopt, project / "a" / "b");
    CHECK(found.from == rk::IndexLocation::From::found);
    CHECK(found.dir == project / ".rk");
    setenv("XDG_DATA_HOME", (tmp.path / "xdg").c_str(), 1);  // NOLINT(concurrency-mt-unsafe)
    const auto fallback = rk::resolve_index(std::nullopt, tmp.path);
    CHECK(fallback.dir == tmp.path / "xdg" / "rk" / "default");
    setenv("RK_INDEX", "/from/env", 1);  // NOLINT(concurrency-mt-unsafe)
    CHECK(rk::resolve_index(std::nullopt, project).dir == fs::path("/from/env"));
    unsetenv("RK_INDEX");  // NOLINT(concurrency-mt-unsafe)
}

TEST_CASE("ingest adds, skips unchanged, updates, prunes", "[ingest]") {
    TempDir tmp;
    const fs::path docs = tmp.path / "docs";
    write(docs / "a.md", "# Alpha\n\nalpha text\n");
    write(docs / "b.txt", "bravo text\n");
    write(docs / ".hidden.txt", "hidden\n");
    write(docs / "c.bin", std::string("bin\0ary", 7));
    auto index = rk::Index::create(tmp.path / "idx", {});
    rk::IngestOptions o;
    o.paths = {docs.string()};
    o.recursive = true;

    auto r = rk::ingest(index, o);
    CHECK(r.added == 2);
    CHECK(r.skipped == 1);
    CHECK(r.failed == 0);
    const auto a = index.get((docs / "a.md").string());
    REQUIRE(a);
    CHECK(a->info.title == "Alpha");
    CHECK(a->text == "# Alpha\n\nalpha text\n");

    r = rk::ingest(index, o);
    CHECK(r.added == 0);
    CHECK(r.unchanged == 2);

    write(docs / "b.txt", "bravo changed\n");
    fs::remove(docs / "a.md");
    o.prune = true;
    r = rk::ingest(index, o);
    CHECK(r.updated == 1);
    CHECK(r.pruned == 1);
    CHECK_FALSE(index.get((docs / "a.md").string()));
    CHECK(index.get((docs / "b.txt").string())->text == "bravo changed\n");
    CHECK(index.verify().ok);
}

TEST_CASE("JSONL: ids kept, bad lines reported, the rest ingested", "[ingest]") {
    TempDir tmp;
    write(tmp.path / "c.jsonl",
          "{\"_id\":\"1\",\"title\":\"one\",\"text\":\"first\"}\n"
          "{\"_id\":\"2\",\"text\":\n"
          "{\"_id\":\"3\",\"text\":\"third \xFF\"}\n"
          "\n"
          "{\"_id\":\"4\",\"text\":\"trunc");
    auto index = rk::Index::create(tmp.path / "idx", {});
    rk::IngestOptions o;
    o.paths = {(tmp.path / "c.jsonl").string()};
    std::vector<rk::IngestNote> notes;
    rk::IngestCallbacks cb;
    cb.note = [&](const rk::IngestNote& n) { notes.push_back(n); };
    const auto r = rk::ingest(index, o, cb);
    CHECK(r.added == 2);
    CHECK(r.failed == 2);
    std::vector<std::string> wheres;
    for (const auto& n : notes) wheres.push_back(n.where.substr(n.where.rfind(':') + 1));
    CHECK(wheres == std::vector<std::string>{"2", "3", "5"});
    CHECK(index.get("3")->text == "third \xEF\xBF\xBD");
    CHECK(index.get("1")->info.title == "one");
}

TEST_CASE("JSONL: a later record with the same id replaces the earlier one", "[ingest]") {
    TempDir tmp;
    const auto line = [](const std::string& id, const std::string& text) {
        return "{\"_id\":\"" + id + "\",\"text\":\"" + text + "\"}\n";
    };
    write(tmp.path / "v0.jsonl", line("x", "stored text"));
    // Far enough apart that the earlier "x" is written before the later one arrives.
    std::string filler;
    for (int i = 0; filler.size() < (std::size_t{400} << 10); ++i) {
        filler += line("f" + std::to_string(i), std::string(1000, 'a' + static_cast<char>(i % 26)));
    }
    write(tmp.path / "near.jsonl", line("x", "first edit") + line("x", "stored text"));
    write(tmp.path / "far.jsonl", line("x", "first edit") + filler + line("x", "stored text"));
    write(tmp.path / "edit.jsonl", line("x", "first edit") + line("x", "second edit"));
    auto index = rk::Index::create(tmp.path / "idx", {});
    rk::IngestOptions o;
    o.paths = {(tmp.path / "v0.jsonl").string()};
    REQUIRE(rk::ingest(index, o).added == 1);

    for (const char* file : {"near.jsonl", "far.jsonl"}) {
        // The later record is what the index held before: the document ends unchanged, though
        // the earlier record replaced it meanwhile (far apart) or was never written (near).
        INFO(file);
        o.paths = {(tmp.path / file).string()};
        std::vector<rk::IngestNote> notes;
        rk::IngestCallbacks cb;
        cb.note = [&](const rk::IngestNote& n) { notes.push_back(n); };
        const auto r = rk::ingest(index, o, cb);
        CHECK(r.updated == 0);
        CHECK(r.unchanged == 1);
        CHECK(r.skipped == 0);
        REQUIRE(notes.size() == 1);
        CHECK(notes[0].level == rk::IngestNote::Level::warning);
        CHECK(notes[0].what.find(o.paths[0] + ":1") != std::string::npos);
        CHECK(index.get("x")->text == "stored text");
        CHECK(index.verify().ok);
    }

    o.paths = {(tmp.path / "edit.jsonl").string()};
    auto r = rk::ingest(index, o);
    CHECK((r.added == 0 && r.updated == 1 && r.unchanged == 0 && r.chunks == 1));
    CHECK(index.get("x")->text == "second edit");
    r = rk::ingest(index, o);
    CHECK((r.updated == 0 && r.unchanged == 1 && r.chunks == 0));
    CHECK(index.verify().ok);
}

TEST_CASE("rm by id, glob and collection", "[store]") {
    TempDir tmp;
    write(tmp.path / "c.jsonl",
          "{\"_id\":\"a1\",\"text\":\"x\"}\n{\"_id\":\"a2\",\"text\":\"y\"}\n"
          "{\"_id\":\"b1\",\"text\":\"z\"}\n");
    auto index = rk::Index::create(tmp.path / "idx", {});
    rk::IngestOptions o;
    o.paths = {(tmp.path / "c.jsonl").string()};
    o.collection = "c";
    rk::ingest(index, o);
    CHECK(index.remove({"a1"}, std::nullopt) == std::vector<std::string>{"a1"});
    CHECK(index.remove({"b*"}, std::nullopt) == std::vector<std::string>{"b1"});
    CHECK(index.remove({}, "c") == std::vector<std::string>{"a2"});
    CHECK(index.stats().documents == 0);
    CHECK(index.verify().ok);
}

TEST_CASE("snowball tokenizers stem other languages, and unknown ones are refused", "[store]") {
    TempDir tmp;
    rk::Settings s;
    s.tokenizer = "snowball:french";
    write(tmp.path / "fr.jsonl",
          "{\"_id\":\"1\",\"text\":\"Les chanteurs chantaient\"}\n"
          "{\"_id\":\"2\",\"text\":\"Le chien mange\"}\n");
    {
        auto index = rk::Index::create(tmp.path / "idx", s);
        rk::IngestOptions o;
        o.paths = {(tmp.path / "fr.jsonl").string()};
        CHECK(rk::ingest(index, o).added == 2);
    }
    // A new connection must know the tokenizer too.
    const auto index = rk::Index::open(tmp.path / "idx", rk::Index::Mode::read);
    rk::Query q;
    q.text = "chanteur";
    q.mode = rk::SearchMode::bm25;  // stemming is a lexical matter
    const auto hits = rk::search(index, q);
    REQUIRE(hits.size() == 1);
    CHECK(hits[0].id == "1");
    CHECK(index.verify().ok);
    s.tokenizer = "snowball:klingon";
    CHECK_THROWS_WITH(rk::Index::create(tmp.path / "other", s), Catch::Contains("french"));
}
