#include "rk/eval.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <sstream>

#include "rk/error.hpp"
#include "temp_dir.hpp"

using Catch::Detail::Approx;

TEST_CASE("metric lists parse, with @10 by default", "[eval]") {
    const auto m = rk::parse_metrics("nDCG@10, recall@100,MRR,map@5,P@1");
    REQUIRE(m.size() == 5);
    CHECK(m[0].name() == "nDCG@10");
    CHECK(m[1].name() == "Recall@100");
    CHECK(m[2].name() == "MRR@10");
    CHECK(m[3].name() == "MAP@5");
    CHECK(m[4].name() == "P@1");
    CHECK_THROWS_AS(rk::parse_metrics("bleu@4"), rk::UsageError);
    CHECK_THROWS_AS(rk::parse_metrics("ndcg@0"), rk::UsageError);
    CHECK_THROWS_AS(rk::parse_metrics(""), rk::UsageError);
}

TEST_CASE("graded nDCG, ties by document id, missing queries score 0", "[eval]") {
    rk::Qrels qrels;
    qrels["q1"] = {{"a", 2}, {"b", 1}, {"c", 0}};
    qrels["q2"] = {{"z", 1}};
    rk::Run run;
    // b and a tie: trec_eval ranks the greater id first, so b (gain 1) before a (gain 2).
    run["q1"] = {{"a", 1.0}, {"b", 1.0}, {"c", 3.0}};
    const auto e = rk::evaluate(qrels, run, rk::parse_metrics("ndcg@3,mrr@3,p@2"));
    REQUIRE(e.per_query.size() == 2);
    const double dcg = 0 + 1 / std::log2(3.0) + 2 / std::log2(4.0);
    const double idcg = 2 + 1 / std::log2(3.0);
    CHECK(e.per_query[0].second[0] == Approx(dcg / idcg));
    CHECK(e.per_query[0].second[1] == Approx(0.5));
    CHECK(e.per_query[0].second[2] == Approx(0.5));
    CHECK(e.per_query[1].second[0] == 0.0);
    CHECK(e.mean[0] == Approx(dcg / idcg / 2));
}

TEST_CASE("query files: plain lines or BEIR JSONL, with line numbers in errors", "[eval]") {
    std::istringstream plain("first query\n\n  \nthird query\r\n");
    const auto p = rk::read_queries(plain, "q.txt");
    REQUIRE(p.size() == 2);
    CHECK((p[0].id == "1" && p[0].text == "first query"));
    CHECK((p[1].id == "4" && p[1].text == "third query"));
    std::istringstream beir(R"({"_id":"q7","text":"a"})"
                            "\n"
                            R"({"_id":12,"text":"b"})"
                            "\n"
                            R"({"text":"c"})"
                            "\n");
    const auto b = rk::read_queries(beir, "q.jsonl");
    REQUIRE(b.size() == 3);
    CHECK((b[0].id == "q7" && b[1].id == "12" && b[2].id == "3"));
    std::istringstream bad(R"({"_id":"q1","text":"ok"})"
                           "\n"
                           R"({"_id":"q2"})"
                           "\n");
    CHECK_THROWS_WITH(rk::read_queries(bad, "q.jsonl"), Catch::Contains("text"));
    try {
        std::istringstream again(R"({"_id":"q1"})");
        rk::read_queries(again, "q.jsonl");
    } catch (const rk::InputError& e) {
        CHECK(e.where() == "q.jsonl:1");
    }
}

TEST_CASE("a run's ids meet the judgements' as written, else unescaped", "[eval]") {
    const rk::test::TempDir dir;
    auto write = [&](const std::string& name, const std::string& text) {
        std::ofstream(dir.path / name, std::ios::binary) << text;
        return dir.path / name;
    };
    // BEIR's TSV is split at tabs: its ids keep their spaces. "a\x41" is judged as written.
    const auto qrels = rk::read_qrels(write("q.tsv",
                                            "query-id\tcorpus-id\tscore\n"
                                            "q 1\tMy Notes/a.md\t2\n"
                                            "q 1\ta\\x41\t1\n"
                                            "q2\tcaf\xE9\t1\n"));
    REQUIRE(qrels.at("q 1").at("My Notes/a.md") == 2);
    const auto run = rk::read_run(write("r.trec",
                                        "q\\x201 Q0 My\\x20Notes/a.md 1 3 rk\n"
                                        "q\\x201 Q0 a\\x41 2 2 rk\n"
                                        "q\\x201 Q0 aA 3 1 rk\n"
                                        "q2 Q0 caf\\xe9 1 1 rk\n"),
                                  qrels);
    std::vector<std::string> q1;
    for (const auto& e : run.at("q 1")) q1.push_back(e.doc);
    CHECK(q1 == std::vector<std::string>{"My Notes/a.md", "a\\x41", "aA"});
    CHECK(run.at("q2").front().doc == "caf\xE9");
    const auto e = rk::evaluate(qrels, run, rk::parse_metrics("recall@10"));
    CHECK(e.mean[0] == Approx(1.0));
    // Two spellings of one document are one document listed twice.
    CHECK_THROWS_WITH(rk::read_run(write("d.trec",
                                         "q2 Q0 caf\\xe9 1 2 rk\n"
                                         "q2 Q0 caf\\xE9 2 1 rk\n"),
                                   qrels),
                      Catch::Contains("listed again"));
}
