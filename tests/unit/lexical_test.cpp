#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <thread>

#include "lexical/bm25.hpp"
#include "lexical/postings.hpp"
#include "lexical/query.hpp"
#include "lexical/segment_file.hpp"
#include "rk/error.hpp"
#include "rk/index.hpp"
#include "rk/ingest.hpp"
#include "rk/search.hpp"
#include "store/index_impl.hpp"
#include "store/sqlite.hpp"
#include "temp_dir.hpp"
#include "text/tokenizer.hpp"
#include "text/words.hpp"
#include "util/gate.hpp"

namespace fs = std::filesystem;
using rk::lexical::Posting;

namespace {

using rk::test::TempDir;

std::string jsonl(const std::map<std::string, std::string>& docs) {
    std::string out;
    for (const auto& [id, text] : docs) {
        out.append(R"({"_id": ")").append(id).append(R"(", "title": "t )").append(id);
        out.append(R"(", "text": ")").append(text).append("\"}\n");
    }
    return out;
}

void ingest(rk::Index& index, const std::map<std::string, std::string>& docs) {
    rk::IngestOptions o;
    o.paths = {"-"};
    o.stdin_data = jsonl(docs);
    o.jobs = 2;
    (void)rk::ingest(index, o, {});
}

// Every hit's score by id, rounded so that float noise does not count. (Ties are ordered by
// chunk rowid, which differs between indexes, so the order itself is not compared.)
std::map<std::string, long long> ranking(const rk::Index& index, const std::string& text) {
    rk::Query q;
    q.text = text;
    q.mode = rk::SearchMode::bm25;  // the postings under test, not the vectors
    q.k = 1000;
    q.snippets = false;
    std::map<std::string, long long> out;
    for (const auto& h : rk::search(index, q)) out.emplace(h.id, std::llround(h.score * 1e9));
    return out;
}

// The tokens `tok` makes of `text`, in order.
std::vector<std::string> tokens_of(rk::text::Tokenizer& tok, std::string_view text,
                                   rk::text::Tokenizer::Purpose purpose) {
    std::vector<std::string> out;
    tok.tokenize(text, purpose, [&](std::string_view t) { out.emplace_back(t); });
    return out;
}

}  // namespace

TEST_CASE("posting lists round-trip in pages of blocks, and malformed ones are refused",
          "[lexical]") {
    std::mt19937 gen(3);
    auto rng = [&] { return static_cast<std::uint32_t>(gen()); };
    constexpr std::size_t block = rk::lexical::kBlockSize;
    constexpr std::size_t page = block * rk::lexical::kBlocksPerPage;
    for (const std::size_t n : {std::size_t{1}, std::size_t{4}, block, block + 1, 5 * block + 7,
                                page, page + 1, 3 * page + 200}) {
        INFO(n << " entries");
        std::vector<Posting> in;
        std::int64_t chunk = 0;
        for (std::size_t i = 0; i < n; ++i) {
            chunk += 1 + static_cast<std::int64_t>(rng() % (i == n - 1 ? (1U << 30) : 50U));
            in.push_back({chunk, {rng() % 3, rng() % 2, 1 + rng() % 9}, 1 + rng() % 400});
        }
        const auto list = rk::lexical::encode_list(in);
        const auto head = rk::lexical::decode_head(list.head);
        REQUIRE(head.pages.size() == (n + page - 1) / page);
        CHECK(list.pages.size() == (n <= block ? 0 : head.pages.size()));
        CHECK(head.inline_page.empty() == (n > block));
        std::vector<Posting> out, in_page;
        std::vector<rk::lexical::BlockRef> blocks;
        for (std::size_t p = 0; p < head.pages.size(); ++p) {
            const std::string& bytes = n <= block ? head.inline_page : list.pages[p];
            rk::lexical::decode_page(bytes, head.pages[p], blocks);
            in_page.clear();
            for (const auto& b : blocks) {
                const std::size_t before = in_page.size();
                rk::lexical::decode_block(bytes, b, in_page);
                REQUIRE(in_page.size() > before);
                CHECK(in_page[before].chunk == b.first);
                CHECK(in_page.back().chunk == b.last);
            }
            CHECK(in_page.front().chunk == head.pages[p].first);
            CHECK(in_page.back().chunk == head.pages[p].last);
            // The page's impacts are entries of it, and every entry is matched or beaten on
            // every count and on length by one of them.
            const std::uint32_t first = p == 0 ? 0 : head.pages[p - 1].impacts_end;
            const std::vector<rk::lexical::Impact> impacts(
                head.impacts.begin() + first, head.impacts.begin() + head.pages[p].impacts_end);
            REQUIRE_FALSE(impacts.empty());
            auto covers = [](const rk::lexical::Impact& i, const Posting& e) {
                return i.tf[0] >= e.tf[0] && i.tf[1] >= e.tf[1] && i.tf[2] >= e.tf[2] &&
                       i.length <= e.length;
            };
            for (const auto& e : in_page) {
                CHECK(std::any_of(impacts.begin(), impacts.end(),
                                  [&](const auto& i) { return covers(i, e); }));
            }
            for (const auto& i : impacts) {
                CHECK(std::any_of(in_page.begin(), in_page.end(), [&](const Posting& e) {
                    return e.tf == i.tf && e.length == i.length;
                }));
            }
            out.insert(out.end(), in_page.begin(), in_page.end());
        }
        REQUIRE(out.size() == in.size());
        for (std::size_t i = 0; i < in.size(); ++i) {
            CHECK(out[i].chunk == in[i].chunk);
            CHECK(out[i].tf == in[i].tf);
            CHECK(out[i].length == in[i].length);
        }
    }
    // The widest values a block holds: gaps near 2^62, counts and lengths of 32 bits.
    const std::uint32_t most = 0xFFFFFFFFU;
    const std::int64_t far = std::int64_t{1} << 61;
    const std::vector<Posting> wide{{1, {most, 0, 1}, most},
                                    {2, {0, most, 0}, 0},
                                    {far, {1, 1, most}, 7},
                                    {2 * far, {0, 0, 1}, most}};
    const auto wide_list = rk::lexical::encode_list(wide);
    const auto wide_head = rk::lexical::decode_head(wide_list.head);
    std::vector<rk::lexical::BlockRef> wide_blocks;
    rk::lexical::decode_page(wide_head.inline_page, wide_head.pages[0], wide_blocks);
    std::vector<Posting> wide_out;
    rk::lexical::decode_block(wide_head.inline_page, wide_blocks[0], wide_out);
    REQUIRE(wide_out.size() == wide.size());
    for (std::size_t i = 0; i < wide.size(); ++i) {
        CHECK(wide_out[i].chunk == wide[i].chunk);
        CHECK(wide_out[i].tf == wide[i].tf);
        CHECK(wide_out[i].length == wide[i].length);
    }
    const std::vector<Posting> in{{1, {0, 0, 3}, 10}, {2, {1, 0, 0}, 7}, {300, {2, 5, 9}, 100000}};
    const auto list = rk::lexical::encode_list(in);
    const auto head = rk::lexical::decode_head(list.head);
    std::vector<rk::lexical::BlockRef> blocks;
    rk::lexical::decode_page(head.inline_page, head.pages[0], blocks);
    std::vector<Posting> out;
    auto broken = blocks[0];
    broken.last = 299;
    CHECK_THROWS_AS(rk::lexical::decode_block(head.inline_page, broken, out), rk::IndexError);
    broken = blocks[0];
    --broken.bytes;
    out.clear();
    CHECK_THROWS_AS(rk::lexical::decode_block(head.inline_page, broken, out), rk::IndexError);
    CHECK_THROWS_AS(rk::lexical::decode_page(head.inline_page.substr(1), head.pages[0], blocks),
                    rk::IndexError);
    auto other = head.pages[0];
    other.last = 301;
    CHECK_THROWS_AS(rk::lexical::decode_page(head.inline_page, other, blocks), rk::IndexError);
    CHECK_THROWS_AS(rk::lexical::decode_head(list.head.substr(0, list.head.size() - 1)),
                    rk::IndexError);
    CHECK_THROWS_AS(rk::lexical::decode_head(std::string(12, '\xff')), rk::IndexError);
    CHECK_THROWS_AS(rk::lexical::decode_head(std::string(1, '\0')), rk::IndexError);
    CHECK_THROWS_AS(rk::lexical::encode_list({{5, {}, 1}, {5, {}, 1}}), rk::IndexError);
}

TEST_CASE("terms are counted per field with the index's tokenizer", "[lexical]") {
    TempDir tmp;
    rk::store::Database db(tmp.path / "x.db", rk::store::Database::Open::create);
    rk::text::Tokenizer porter(db.handle(), "porter unicode61 remove_diacritics 2");
    rk::lexical::TermCounter counter(porter);
    const auto c = counter.count("Running Cats", "", "the cats ran; the CAT runs Café");
    CHECK(c.length == 9);
    std::map<std::string, std::array<std::uint32_t, 3>> tf;
    for (const auto& t : c.terms) tf[t.term] = t.tf;
    CHECK(tf["cat"] == std::array<std::uint32_t, 3>{1, 0, 2});
    CHECK(tf["run"] == std::array<std::uint32_t, 3>{1, 0, 1});
    CHECK(tf["the"] == std::array<std::uint32_t, 3>{0, 0, 2});
    CHECK(tf["cafe"] == std::array<std::uint32_t, 3>{0, 0, 1});  // diacritics removed
    CHECK(tf.size() == 5);

    // Many distinct terms grow the table without losing counts.
    std::string body;
    for (int i = 0; i < 3000; ++i) body.append("w").append(std::to_string(i % 1500)).append(" ");
    const auto big = counter.count("", "", body);
    CHECK(big.terms.size() == 1500);
    CHECK(big.length == 3000);
    for (const auto& t : big.terms) CHECK(t.tf[2] == 2);
}

TEST_CASE("a repeated word is one term: a query costs its distinct words", "[lexical]") {
    // "retry " a thousand times once cost seconds (snippet() is quadratic in the phrases).
    std::string repeated, excluded;
    for (int i = 0; i < 1000; ++i) {
        repeated += "retry ";
        excluded += "-draft retry ";
    }
    const auto once = rk::fts_query("retry");
    REQUIRE(once);
    CHECK(rk::fts_query(repeated)->match == once->match);
    const auto both = rk::fts_query(excluded);
    REQUIRE(both);
    CHECK(both->match == once->match);
    CHECK(both->exclude == rk::fts_query("retry -draft")->exclude);
}

TEST_CASE("control characters in a query separate words, NUL included", "[lexical]") {
    using namespace std::string_literals;
    const auto terms = rk::lexical::parse_query("retry\0backoff \"jitter\x01spread\0\" x\x7f"s);
    REQUIRE(terms.size() == 4);
    CHECK(terms[0].text == "retry");
    CHECK(terms[1].text == "backoff");
    CHECK(terms[2].text == "jitter spread ");
    CHECK(terms[2].phrase);
    CHECK(terms[3].text == "x");
    // Found by fuzzing rk serve's parameters: a NUL inside a quoted term ended FTS5's reading
    // of the expression, and the search failed with "unterminated string".
    TempDir tmp;
    auto index = rk::Index::create(tmp.path / "idx", {});
    ingest(index, std::map<std::string, std::string>{{"a", "retry with backoff"}});
    rk::Query q;
    q.text = "retry b\x9e\x9c)))\x99=\xff\0\0\0\0m25"s;
    CHECK_NOTHROW(rk::search(index, q));
    q.text = "\"back\0off\" retry"s;
    CHECK(rk::search(index, q).size() == 1);
}

TEST_CASE("a metadata key a JSON path cannot name is refused, not an internal error", "[lexical]") {
    using namespace std::string_literals;
    // Found by fuzzing rk serve: where=la\0... failed the search with SQLite's "JSON path
    // error"; a key holding '"' silently matched nothing.
    TempDir tmp;
    auto index = rk::Index::create(tmp.path / "idx", {});
    rk::IngestOptions o;
    o.paths = {"-"};
    o.stdin_data = R"({"_id": "a", "text": "retry with backoff", "lang": "en"})"
                   "\n";
    (void)rk::ingest(index, o, {});
    rk::Query q;
    q.text = "retry";
    for (const auto& key : {"la\0ng"s, "a\"b"s, "\""s}) {
        q.where = {{key, "en"}};
        CHECK_THROWS_AS(rk::search(index, q), rk::UsageError);
    }
    q.where = {{"lang", "en"}};
    CHECK(rk::search(index, q).size() == 1);
}

TEST_CASE("the front ends' query limit", "[lexical]") {
    CHECK_NOTHROW(rk::check_query_length(std::string(rk::kMaxQueryBytes, 'a')));
    CHECK_THROWS_WITH(rk::check_query_length(std::string(rk::kMaxQueryBytes + 1, 'a'), "q.txt"),
                      "the query is longer than 4096 bytes (4097 bytes)");
}

TEST_CASE("camelCase words split where a reader of code sees words", "[lexical]") {
    using rk::text::identifier_splits;
    using V = std::vector<std::size_t>;
    CHECK(identifier_splits("parseConfig") == V{5});
    CHECK(identifier_splits("ParseConfigFile") == V{5, 11});
    CHECK(identifier_splits("XMLHttpRequest") == V{3, 7});
    CHECK(identifier_splits("HTTPServer") == V{4});
    CHECK(identifier_splits("utf8Decode") == V{4});
    // One-letter parts, all one case, and words that are not ASCII stay whole.
    for (const char* whole : {"mRNA", "iPhone", "PhD", "IgG", "config", "CONFIG", "x", "", "base64",
                              "caf\xC3\xA9Noir", "parse_config"}) {
        CHECK(identifier_splits(whole).empty());
    }
}

TEST_CASE("documents hold camelCase words whole and in parts; queries ask for the parts",
          "[lexical]") {
    TempDir tmp;
    rk::store::Database db(tmp.path / "x.db", rk::store::Database::Open::create);
    rk::text::Tokenizer tok(db.handle(), "porter rk_words unicode61 remove_diacritics 2");
    const auto tokens = [&](std::string_view text, rk::text::Tokenizer::Purpose purpose) {
        return tokens_of(tok, text, purpose);
    };
    using P = rk::text::Tokenizer::Purpose;
    using V = std::vector<std::string>;
    CHECK(tokens("call parseConfig(path) Caf\xC3\xA9", P::document) ==
          V{"call", "pars", "parseconfig", "config", "path", "cafe"});
    CHECK(tokens("parseConfig", P::query) == V{"pars", "config"});
    CHECK(tokens("parse_config", P::query) == V{"pars", "config"});
    CHECK(tokens("parseconfig mRNA", P::query) == V{"parseconfig", "mrna"});
    // A Snowball index splits them too.
    rk::text::Tokenizer snowball(db.handle(),
                                 "rk_snowball english rk_words unicode61 remove_diacritics 2");
    CHECK(tokens_of(snowball, "loadSettings", P::document) == V{"load", "loadset", "set"});
}

TEST_CASE("a Snowball tokenizer's stems do not depend on the words it saw before", "[lexical]") {
    TempDir tmp;
    rk::store::Database db(tmp.path / "x.db", rk::store::Database::Open::create);
    using P = rk::text::Tokenizer::Purpose;
    using V = std::vector<std::string>;
    const std::string text = "generously connections running antidisestablishmentarianisms";
    const V stems{"generous", "connect", "run", "antidisestablishmentarian"};
    rk::text::Tokenizer fresh(db.handle(), "rk_snowball english rk_words unicode61");
    REQUIRE(tokens_of(fresh, text, P::document) == stems);
    // Its cache of recent stems holds 4,096 words by hash: many more distinct words (which
    // must evict and collide) leave the answers as they were, for short and long words.
    rk::text::Tokenizer used(db.handle(), "rk_snowball english rk_words unicode61");
    std::string many;
    for (int i = 0; i < 20000; ++i) many += "walking" + std::to_string(i) + "s " + text + " ";
    const auto all = tokens_of(used, many, P::document);
    REQUIRE(all.size() == std::size_t{20000} * 5);
    for (std::size_t i = 0; i < all.size(); i += 5) {
        CHECK(all[i] == "walking" + std::to_string(i / 5));
        CHECK(V(all.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                all.begin() + static_cast<std::ptrdiff_t>(i) + 5) == stems);
    }
    CHECK(tokens_of(used, text, P::document) == stems);
}

TEST_CASE("unspaced scripts are cut into pairs; other words are NFKC-casefolded", "[lexical]") {
    TempDir tmp;
    rk::store::Database db(tmp.path / "x.db", rk::store::Database::Open::create);
    rk::text::Tokenizer tok(db.handle(), "porter rk_words unicode61 remove_diacritics 2");
    const auto tokens = [&](std::string_view text, rk::text::Tokenizer::Purpose purpose) {
        return tokens_of(tok, text, purpose);
    };
    using P = rk::text::Tokenizer::Purpose;
    using V = std::vector<std::string>;
    // 東京都 (Tokyo Metropolis): each pair, and each character (at its pair's position), in a
    // document.
    CHECK(tokens("\xE6\x9D\xB1\xE4\xBA\xAC\xE9\x83\xBD", P::document) ==
          V{"\xE6\x9D\xB1\xE4\xBA\xAC", "\xE6\x9D\xB1", "\xE4\xBA\xAC\xE9\x83\xBD", "\xE4\xBA\xAC",
            "\xE9\x83\xBD"});
    // A query asks for the pairs, or the one character.
    CHECK(tokens("\xE6\x9D\xB1\xE4\xBA\xAC\xE9\x83\xBD", P::query) ==
          V{"\xE6\x9D\xB1\xE4\xBA\xAC", "\xE4\xBA\xAC\xE9\x83\xBD"});
    CHECK(tokens("\xE6\x9D\xB1", P::query) == V{"\xE6\x9D\xB1"});
    // Latin words next to them are words of their own.
    CHECK(tokens("iPhone\xE3\x81\xA8Mac", P::query) == V{"iphon", "\xE3\x81\xA8", "mac"});
    // große, GROSSE and GRÖSSE; the ligature fi; fullwidth ＡＢＣ.
    CHECK(tokens("gro\xC3\x9F"
                 "e GROSSE GR\xC3\x96SSE",
                 P::document) == V{"gross", "gross", "gross"});
    CHECK(tokens("\xEF\xAC\x81le \xEF\xBC\xA1\xEF\xBC\xA2\xEF\xBC\xA3", P::query) ==
          V{"file", "abc"});
    CHECK(rk::text::unspaced_script(U'\u4E2D'));
    CHECK(rk::text::unspaced_script(U'\uAC00'));
    CHECK_FALSE(rk::text::unspaced_script(U'a'));
    CHECK(rk::text::nfkc_casefold("Stra\xC3\x9F"
                                  "e") == "strasse");
    CHECK(rk::text::nfkc_casefold("plain") == "plain");
}

TEST_CASE("an index made before identifiers were split keeps its tokens", "[lexical]") {
    TempDir tmp;
    for (const bool split : {true, false}) {
        rk::Settings s;
        s.embedder = "none";
        s.split_words = split;
        const auto dir = tmp.path / (split ? "new" : "old");
        {
            auto index = rk::Index::create(dir, s);
            ingest(index, {{"a", "call parseConfig here"}, {"b", "parse the config file"}});
        }
        const auto index = rk::Index::open(dir, rk::Index::Mode::read);
        CHECK(index.settings().split_words == split);
        CHECK(ranking(index, "parseconfig").size() == 1);
        CHECK(ranking(index, "config").size() == (split ? 2U : 1U));
        CHECK(ranking(index, "parseConfig").size() == (split ? 2U : 1U));
    }
}

// Random adds, updates and removals, one transaction each, so that segments pile up, merge
// and carry dead chunks (rowids of removed chunks are reused by SQLite). After each step the
// postings must agree with the text, and scores must equal those of an index built afresh
// from the same documents.
TEST_CASE("postings stay exact through updates, removals, merges and rowid reuse", "[lexical]") {
    TempDir tmp;
    auto index = rk::Index::create(tmp.path / "live", rk::Settings{});
    std::mt19937 rng(7);
    const std::vector<std::string> words{"alpha", "beta",  "gamma", "delta", "omega",
                                         "kappa", "sigma", "theta", "zeta",  "iota"};
    auto random_text = [&] {
        std::string t;
        const int n = 3 + static_cast<int>(rng() % 30);
        for (int i = 0; i < n; ++i) t.append(words[rng() % words.size()]).append(" ");
        return t;
    };
    std::map<std::string, std::string> live;
    for (int step = 0; step < 40; ++step) {
        const auto op = rng() % 4;
        if (op == 3 && !live.empty()) {
            // Remove the newest-looking document, whose chunk rowids are the largest.
            const auto victim = std::prev(live.end())->first;
            index.remove({victim}, std::nullopt);
            live.erase(victim);
        } else {
            std::map<std::string, std::string> batch;
            const int n = 1 + static_cast<int>(rng() % 5);
            for (int i = 0; i < n; ++i) {
                batch[std::string("d").append(std::to_string(rng() % 30))] = random_text();
            }
            ingest(index, batch);
            for (auto& [id, text] : batch) live[id] = text;
        }
        const auto health = index.verify();
        INFO("step " << step << ": " << (health.problems.empty() ? "" : health.problems[0]));
        REQUIRE(health.ok);
    }
    const auto segments =
        rk::store::Database(tmp.path / "live" / "rk.db", rk::store::Database::Open::read_only)
            .query_int("SELECT count(*) FROM lex_segments");
    CHECK(segments.value_or(0) >= 1);
    CHECK(segments.value_or(0) < 5);  // merged: a segment per write would make ~40

    auto fresh = rk::Index::create(tmp.path / "fresh", rk::Settings{});
    ingest(fresh, live);
    for (const auto* q : {"alpha", "beta gamma", "omega zeta iota", "\"alpha beta\"", "kap*"}) {
        INFO(q);
        CHECK(ranking(index, q) == ranking(fresh, q));
    }
    index.optimize();
    CHECK(index.verify().ok);
    CHECK(ranking(index, "sigma theta") == ranking(fresh, "sigma theta"));
    index.rebuild();
    CHECK(index.verify().ok);
    CHECK(ranking(index, "delta") == ranking(fresh, "delta"));
}

// A long query is scored by two threads taking windows of chunk ids in turn, each pruning with
// the better of their k-th scores: the top k must be the one thread's, to the last bit of each
// score (whose terms are added in another order) and in the order of ties.
TEST_CASE("BM25 scored by two threads finds exactly what one finds", "[lexical]") {
    TempDir tmp;
    auto index = rk::Index::create(tmp.path / "split", rk::Settings{});
    std::mt19937 rng(11);
    const std::vector<std::string> words{"alpha", "beta",  "gamma", "delta", "omega", "kappa",
                                         "sigma", "theta", "zeta",  "iota",  "rho",   "tau"};
    std::map<std::string, std::string> docs;
    for (int i = 0; i < 3000; ++i) {
        std::string t;
        const int n = 2 + static_cast<int>(rng() % 12);
        for (int w = 0; w < n; ++w) t.append(words[rng() % words.size()]).append(" ");
        if (i % 1000 < 10) t.append("rare");  // clusters far apart: windows without entries
        docs[std::string("d").append(std::to_string(i))] = t;
        if (i % 1000 == 999) {  // several segments, so several cursors a term
            ingest(index, docs);
            docs.clear();
        }
    }
    auto& impl = index.impl();
    auto& db = *impl.db;
    auto& files = impl.posting_files();
    const rk::store::ReadTransaction snapshot(db);
    for (const auto* q : {"alpha beta gamma", "omega", "zeta iota rho tau sigma", "\"alpha beta\"",
                          "kap* theta", "delta -gamma beta", "rare", "rare omega"}) {
        for (const std::size_t k : {1, 10, 150}) {
            const auto terms = rk::lexical::parse_query(q);
            const auto one = rk::lexical::bm25(db, impl.query_tokenizer(), terms, rk::Bm25Params{},
                                               k, &files, {.split_from_entries = SIZE_MAX});
            // Two threads, with the usual window (3,000 chunk ids: one) and with small ones
            // (dozens, taken in turn, some skipped for holding no entry), several times over:
            // which thread takes which window is a matter of timing. Runs 3 and 4 hold the
            // helper at a gate: one nobody opens (the calling thread scores every window,
            // then lets the helper go, which scores none), and one another thread opens at
            // any moment, before, while or after the calling thread scores.
            for (const std::int64_t window :
                 {rk::lexical::Bm25Work{}.window, std::int64_t{64}, std::int64_t{192}}) {
                for (int run = 0; run < 5; ++run) {
                    INFO(q << " k=" << k << " window=" << window << " run " << run);
                    rk::util::Gate gate;
                    std::optional<std::jthread> opener;
                    if (run == 4) opener.emplace([&gate] { gate.open(); });
                    const auto two = rk::lexical::bm25(db, impl.query_tokenizer(), terms,
                                                       rk::Bm25Params{}, k, &files,
                                                       {.split_from_entries = 0,
                                                        .window = window,
                                                        .helper_first = run == 1,
                                                        .helper_gate = run >= 3 ? &gate : nullptr});
                    REQUIRE(one.chunks.size() == two.chunks.size());
                    CHECK(one.complete == two.complete);
                    CHECK_FALSE(two.scored_again);
                    if (run == 3) CHECK(two.helper_windows == 0);
                    for (std::size_t i = 0; i < one.chunks.size(); ++i) {
                        CHECK(one.chunks[i].chunk == two.chunks[i].chunk);
                        CHECK(one.chunks[i].score == two.chunks[i].score);  // to the last bit
                    }
                }
            }
            // One thread with small windows: the same again.
            const auto small =
                rk::lexical::bm25(db, impl.query_tokenizer(), terms, rk::Bm25Params{}, k, &files,
                                  {.split_from_entries = SIZE_MAX, .window = 64});
            REQUIRE(one.chunks.size() == small.chunks.size());
            for (std::size_t i = 0; i < one.chunks.size(); ++i) {
                CHECK(one.chunks[i].chunk == small.chunks[i].chunk);
                CHECK(one.chunks[i].score == small.chunks[i].score);
            }
        }
    }
    CHECK_THROWS_AS(
        rk::lexical::bm25(db, impl.query_tokenizer(), rk::lexical::parse_query("alpha"),
                          rk::Bm25Params{}, 10, &files, {.split_from_entries = 0, .window = 100}),
        rk::Error);
    // The calling thread waiting for a helper held at a gate would wait for ever.
    rk::util::Gate closed;
    CHECK_THROWS_AS(
        rk::lexical::bm25(db, impl.query_tokenizer(), rk::lexical::parse_query("alpha"),
                          rk::Bm25Params{}, 10, &files,
                          {.split_from_entries = 0, .helper_first = true, .helper_gate = &closed}),
        rk::Error);
}

// A long list's decoded head is kept by its posting file: asked again, the same decoding is
// given back, and the file's budget bounds what is kept (the least recently used goes first).
TEST_CASE("a posting file keeps the heads of long lists it decoded, within its budget",
          "[lexical]") {
    TempDir tmp;
    auto index = rk::Index::create(tmp.path / "heads", rk::Settings{});
    std::map<std::string, std::string> docs;
    for (int i = 0; i < 7000; ++i) {  // 7,000 entries a word: 4 pages of 16 blocks of 128
        docs[std::string("d").append(std::to_string(i))] =
            std::string("alpha bravo delta gamma kappa ") + (i % 2 == 0 ? "even" : "odd");
    }
    ingest(index, docs);
    rk::Query q;
    q.text = "alpha even";
    q.mode = rk::SearchMode::bm25;
    q.k = 5;
    const auto before = rk::search(index, q);
    auto& db = *index.impl().db;
    std::int64_t seg = 0, entries = 0;
    std::uint64_t tag = 0;
    std::filesystem::path path;
    {
        const rk::store::ReadTransaction snapshot(db);
        auto& st = db.cached("SELECT seg, entries FROM lex_segments");
        REQUIRE(st.step());
        seg = st.int64(0);
        entries = st.int64(1);
        CHECK_FALSE(st.step());  // one segment
        st.reset();
        path = rk::lexical::segment_file_path(rk::lexical::posting_dir(db), seg);
        tag = rk::lexical::posting_tag(db);
    }
    using rk::lexical::SegmentFile;
    const auto file = SegmentFile::open(path, tag, seg, entries);
    REQUIRE(file);
    const auto rows = file->find("alpha");
    REQUIRE(rows);
    REQUIRE(rows->page_count == 4);
    CHECK(file->head_cache_bytes() == 0);
    const auto first = file->decoded_head("alpha", *rows);
    const std::size_t one = file->head_cache_bytes();
    CHECK(one > 0);
    const auto fresh = rk::lexical::decode_head(rows->head);
    REQUIRE(first->pages.size() == fresh.pages.size());
    for (std::size_t p = 0; p < fresh.pages.size(); ++p) {
        CHECK(first->pages[p].first == fresh.pages[p].first);
        CHECK(first->pages[p].last == fresh.pages[p].last);
        CHECK(first->pages[p].impacts_end == fresh.pages[p].impacts_end);
    }
    CHECK(first->impacts.size() == fresh.impacts.size());
    const auto again = file->find("alpha");  // from the cache now
    REQUIRE(again);
    CHECK(again->head.data() == rows->head.data());
    CHECK(again->pages.data() == rows->pages.data());
    CHECK(again->page_count == rows->page_count);
    CHECK(file->decoded_head("alpha", *again) == first);
    // A short list ("even": 2 pages) is decoded each time, never kept.
    const auto even = file->find("even");
    REQUIRE(even);
    CHECK(file->decoded_head("even", *even) != file->decoded_head("even", *even));
    CHECK(file->head_cache_bytes() == one);

    // A page is checked the first time the file's pages are read in the process; verify's
    // check is made each time.
    {
        const auto fresh_file = SegmentFile::open(path, tag, seg, entries);
        REQUIRE(fresh_file);
        const std::string page(rows->pages.substr(0, first->pages[0].bytes));
        std::string damaged = page;
        damaged[damaged.size() / 2] ^= 0x55;
        CHECK_FALSE(fresh_file->page_read_sound(*rows, 0, damaged));
        CHECK(fresh_file->page_read_sound(*rows, 0, page));
        CHECK(fresh_file->page_read_sound(*rows, 0, damaged));  // known sound by now
        CHECK_FALSE(fresh_file->page_sound(*rows, 0, damaged));
        CHECK_FALSE(fresh_file->page_read_sound(*rows, 1, damaged));
        CHECK_FALSE(fresh_file->page_read_sound(*rows, rows->page_count, page));
    }

    // A budget of four and a half such lists: a fifth pushes out the least recently used.
    const auto small = SegmentFile::open(path, tag, seg, entries, 4 * one + one / 2);
    REQUIRE(small);
    auto decoded = [&](const char* term) { return small->decoded_head(term, *small->find(term)); };
    const auto alpha = decoded("alpha");
    const auto bravo = decoded("bravo");
    (void)decoded("delta");
    (void)decoded("gamma");
    CHECK(decoded("alpha") == alpha);  // alpha is the most recent now, bravo the least
    CHECK(small->head_cache_bytes() == 4 * one);
    (void)decoded("kappa");
    CHECK(small->head_cache_bytes() == 4 * one);
    CHECK(decoded("alpha") == alpha);
    CHECK(decoded("bravo") != bravo);

    // The same answers through the index's own files, before and after.
    const auto after = rk::search(index, q);
    REQUIRE(after.size() == before.size());
    for (std::size_t i = 0; i < after.size(); ++i) {
        CHECK(after[i].id == before[i].id);
        CHECK(after[i].score == before[i].score);
    }
}

// When the helper thread meets a damaged page in a posting file, it cannot read rk.db (the
// connection is this thread's): this thread scores everything again, and the answer is still
// exactly the one a sound file gives.
TEST_CASE("BM25 split over two threads stays exact when a posting page is damaged", "[lexical]") {
    TempDir tmp;
    auto index = rk::Index::create(tmp.path / "damaged", rk::Settings{});
    std::map<std::string, std::string> docs;
    std::mt19937 rng(5);
    for (int i = 0; i < 20000; ++i) {  // three windows of chunk ids, ten pages of "alpha"
        docs[std::string("d").append(std::to_string(i))] =
            std::string("alpha ") + (rng() % 3 == 0 ? "alpha beta" : "gamma") +
            (rng() % 5 == 0 ? " beta delta" : "");
    }
    ingest(index, docs);
    auto& impl = index.impl();
    auto& db = *impl.db;
    auto& files = impl.posting_files();
    const auto terms = rk::lexical::parse_query("alpha beta delta");
    auto run = [&](std::size_t split_from) {
        const rk::store::ReadTransaction snapshot(db);
        return rk::lexical::bm25(db, impl.query_tokenizer(), terms, rk::Bm25Params{}, 10, &files,
                                 {.split_from_entries = split_from});
    };
    const auto sound = run(SIZE_MAX);
    REQUIRE(sound.chunks.size() == 10);

    // One byte of each page of the query's words, in the file only.
    fs::path path;
    {
        const rk::store::ReadTransaction snapshot(db);
        auto& st = db.cached("SELECT seg FROM lex_segments");
        REQUIRE(st.step());
        path = rk::lexical::segment_file_path(rk::lexical::posting_dir(db), st.int64(0));
        st.reset();
    }
    std::string bytes;
    {
        std::ifstream in(path, std::ios::binary);
        bytes.assign(std::istreambuf_iterator<char>(in), {});
    }
    std::vector<std::size_t> pages;
    {
        const rk::store::ReadTransaction snapshot(db);
        auto& st = db.cached(
            "SELECT data FROM lex_blocks WHERE term IN ('alpha', 'beta', 'delta') ORDER BY page");
        while (st.step()) {
            const auto page = std::string(st.blob(0));
            const auto at = bytes.find(page);
            REQUIRE(at != std::string::npos);
            pages.push_back(at + page.size() / 2);
        }
        st.reset();
    }
    REQUIRE(pages.size() >= 14);
    {
        std::fstream out(path, std::ios::binary | std::ios::in | std::ios::out);
        for (const auto at : pages) {
            out.seekp(static_cast<std::streamoff>(at));
            out.put(static_cast<char>(bytes[at] ^ 0x55));
        }
    }
    // A process checks a page the first time it reads it: the damage is met by one that had
    // not read these pages yet.
    // The caller waits for the helper to take the first window (a small index is scored
    // before a thread has started), and every page either may read is damaged.
    for (int attempt = 0; attempt < 3; ++attempt) {
        const auto reopened = rk::Index::open(tmp.path / "damaged", rk::Index::Mode::read);
        auto& fresh = reopened.impl();
        const auto split = [&] {
            const rk::store::ReadTransaction snapshot(*fresh.db);
            return rk::lexical::bm25(*fresh.db, fresh.query_tokenizer(), terms, rk::Bm25Params{},
                                     10, &fresh.posting_files(),
                                     {.split_from_entries = 0, .window = 64, .helper_first = true});
        }();
        CHECK(split.scored_again);
        CHECK(split.complete == sound.complete);
        REQUIRE(split.chunks.size() == sound.chunks.size());
        for (std::size_t i = 0; i < sound.chunks.size(); ++i) {
            CHECK(split.chunks[i].chunk == sound.chunks[i].chunk);
            CHECK(split.chunks[i].score == sound.chunks[i].score);
        }
        // The caller found the damage too, and the file is gone: make it again for the next run.
        std::ofstream(path, std::ios::binary).write(bytes.data(), std::ssize(bytes));
        std::fstream out(path, std::ios::binary | std::ios::in | std::ios::out);
        for (const auto at : pages) {
            out.seekp(static_cast<std::streamoff>(at));
            out.put(static_cast<char>(bytes[at] ^ 0x55));
        }
    }
}
