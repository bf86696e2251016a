"""rk bench: its table and report, gates, baselines, and its errors, on a small dataset."""

import json
import os

from rkcli import RkTestCase

DOCS = [
    ("d1", "Retry with backoff", "exponential backoff retries failed requests after a delay"),
    ("d2", "Circuit breakers", "a breaker stops calls to a failing service for a while"),
    ("d3", "Timeouts", "every remote call needs a timeout and a retry budget"),
    ("d4", "Caching", "a cache keeps recent answers close to the caller"),
    ("d5", "Queues", "a queue decouples producers from consumers under load"),
    ("d6", "Idempotency", "idempotent requests can be retried safely after a timeout"),
]
QUERIES = [("q1", "retry backoff"), ("q2", "failing service breaker"), ("q3", "cache answers"),
           ("q9", "not judged at all")]
QRELS = [("q1", "d1", 2), ("q1", "d6", 1), ("q2", "d2", 1), ("q3", "d4", 1)]


class BenchTest(RkTestCase):
    def setUp(self):
        super().setUp()
        self.ds = self.path("tiny")
        self.write_jsonl("tiny/corpus.jsonl",
                         [{"_id": i, "title": t, "text": x} for i, t, x in DOCS])
        self.write_jsonl("tiny/queries.jsonl", [{"_id": i, "text": t} for i, t in QUERIES])
        self.write("tiny/qrels/test.tsv", "query-id\tcorpus-id\tscore\n" +
                   "".join(f"{q}\t{d}\t{s}\n" for q, d, s in QRELS))

    def bench(self, *args, expect=0):
        r = self.rk("bench", self.ds, "--repeat", "1", "--warmup", "0", *args, index=None)
        self.assertEqual(r.code, expect, r)
        return r

    def report(self, *args):
        path = self.path("report.json")
        self.bench("--report", path, *args)
        with open(path, encoding="utf-8") as f:
            return json.load(f)

    def test_table_and_report(self):
        r = self.bench()
        self.assertIn("nDCG@10", r.out.splitlines()[0])
        self.assertTrue(r.out.splitlines()[1].startswith("tiny"), r.out)
        rep = self.report()
        self.assertIn("machine", rep)
        self.assertIn("compiler", rep["build"])
        d = rep["datasets"][0]
        self.assertEqual((d["name"], d["documents"], d["queries"]), ("tiny", 6, 3))
        self.assertEqual(len(d["hash"]), 32)
        lat = d["modes"]["bm25"]["latency"]
        self.assertTrue(0 < lat["median_ms"] <= lat["p95_ms"] <= lat["p99_ms"], lat)
        self.assertGreater(d["index_bytes"], 0)
        self.assertGreater(d["peak_rss_bytes"], 0)

    def test_quality_agrees_with_query_and_eval(self):
        rep = self.report()
        self.ok("-q", "ingest", os.path.join(self.ds, "corpus.jsonl"))
        for mode in ("bm25", "vector", "hybrid"):
            quality = rep["datasets"][0]["modes"][mode]["quality"]
            run = self.rk("query", "--mode", mode, "--batch",
                          os.path.join(self.ds, "queries.jsonl"), "--format", "trec", "-k", "100")
            self.assertEqual(run.code, 0, run)
            run_file = self.write("run.trec", run.out)
            ev = self.ok("eval", "--qrels", os.path.join(self.ds, "qrels", "test.tsv"), "--run",
                         run_file, "--format", "json", index=None).json()["metrics"]
            for name, value in ev.items():
                self.assertAlmostEqual(quality[name], value, places=9, msg=f"{mode} {name}")
        self.assertGreater(quality["nDCG@10"], 0.5)

    def test_gates(self):
        passing = self.write("pass.json", json.dumps(
            {"tiny": {"bm25": {"nDCG@10": {"min": 0.1}, "median_ms": {"max": 1e9}}},
             "other": {"bm25": {"nDCG@10": {"min": 2}}}}))
        r = self.bench("--gate", passing)
        self.assertIn("all gates passed", r.err)
        failing = self.write("fail.json", json.dumps(
            {"tiny": {"bm25": {"nDCG@10": {"min": 1.1}, "qps": {"max": 0.001},
                               "Bogus@3": {"min": 0}}}}))
        r = self.bench("--gate", failing, expect=1)
        failed = [line for line in r.err.splitlines() if "gate failed" in line]
        self.assertEqual(len(failed), 3, r.err)
        self.assertIn("nDCG@10", failed[0])
        self.assertIn("qps", failed[1])
        self.assertIn("not measured", failed[2])
        self.assertIn("nDCG@10", r.out)  # the table is still printed

    def test_baseline(self):
        rep = self.report()
        for d in rep["datasets"]:
            d["ingest_seconds"] = 1e9
            for m in d["modes"].values():
                m["latency"]["median_ms"] = 1e9
        same = self.write("same.json", json.dumps(rep))
        self.bench("--baseline", same)
        rep["datasets"][0]["modes"]["bm25"]["quality"]["nDCG@10"] += 0.01
        better = self.write("better.json", json.dumps(rep))
        r = self.bench("--baseline", better, expect=1)
        self.assertIn("nDCG@10 fell", r.err)
        rep["datasets"][0]["hash"] = "0" * 32
        other = self.write("other.json", json.dumps(rep))
        r = self.bench("--baseline", other, expect=1)
        self.assertIn("differs", r.err)
        rep = self.report()
        rep["datasets"][0]["modes"]["bm25"]["latency"]["median_ms"] = 1e-9
        fast = self.write("fast.json", json.dumps(rep))
        r = self.bench("--baseline", fast, "--max-regression", "5%", expect=1)
        self.assertIn("median latency", r.err)

    def test_errors(self):
        self.assertError(self.rk("bench", self.path("nowhere"), index=None),
                         mentions=["corpus.jsonl"])
        self.assertError(self.rk("bench", self.ds, "--mode", "vectors", index=None),
                         mentions=["vectors"])
        self.assertError(self.rk("bench", self.ds, "--fusion", "rrf,k=-1", index=None),
                         mentions=["k=-1"])
        self.assertError(self.rk("bench", self.ds, self.ds), mentions=["--index"])
        self.assertError(self.rk("bench", self.ds, "--max-regression", "lots", index=None),
                         mentions=["lots"])
        bad = self.write("bad-gate.json", "[1, 2")
        self.assertError(self.rk("bench", self.ds, "--gate", bad, index=None),
                         mentions=["bad-gate.json"])
        self.assertError(self.rk("bench", self.ds, "--mode", "bm25,bm25", index=None),
                         mentions=["twice"])
        self.assertError(self.rk("bench", self.ds, "--report", self.path("no/such/dir/r.json"),
                                 index=None), mentions=["r.json"])

    def test_gate_file_typos_fail_before_the_run(self):
        for gate in ({"tiny": {"bm25": {"nDCG@10": 0.99}}},
                     {"tiny": {"bm25": {"MRR@10": {"minimum": 0.99}}}},
                     {"tiny": {"bm25": {"P@10": {"min": "0.99"}}}},
                     {"tiny": 5},
                     {"tiny": {"bm25": {"P@10": {}}}}):
            with self.subTest(gate=gate):
                g = self.write("typo.json", json.dumps(gate))
                r = self.rk("bench", self.ds, "--gate", g, index=None)
                self.assertError(r, 2, mentions=["typo.json"])
                self.assertEqual(r.out, "", "the benchmark ran before the gate file was read")

    def test_dataset_wide_figures_need_a_measured_mode(self):
        g = self.write("g.json", json.dumps({"tiny": {"hybrid": {"ingest_seconds": {"max": 1e9}}}}))
        r = self.bench("--mode", "bm25", "--gate", g, expect=1)
        self.assertIn("not measured", r.err)

    def test_baseline_without_the_dataset_fails(self):
        rep = self.report()
        rep["datasets"][0]["name"] = "renamed"
        other = self.write("renamed.json", json.dumps(rep))
        r = self.bench("--baseline", other, expect=1)
        self.assertIn("not in the baseline", r.err)

    def test_settings_of_a_reused_index_must_agree(self):
        self.ok("init", "--tokenizer", "porter")
        r = self.rk("bench", self.ds, "--tokenizer", "trigram", "--repeat", "1")
        self.assertError(r, 2, mentions=["tokenizer"])

    def test_reuses_an_index(self):
        self.bench("--report", self.path("a.json"))
        r = self.rk("bench", self.ds, "--repeat", "1", "--warmup", "0")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(self.stats()["documents"], 6)

    def test_no_ingest_measures_the_index_as_it_is(self):
        self.ok("-q", "ingest", os.path.join(self.ds, "corpus.jsonl"))
        speed = self.path("speed")
        self.write_jsonl("speed/queries.jsonl", [{"_id": i, "text": t} for i, t in QUERIES])
        path = self.path("speed.json")
        r = self.rk("bench", speed, "--no-ingest", "--repeat", "1", "--report", path)
        self.assertEqual(r.code, 0, r)
        with open(path, encoding="utf-8") as f:
            d = json.load(f)["datasets"][0]
        # No judgements: every query is timed, and no quality is claimed.
        self.assertEqual((d["documents"], d["queries"], d["ingest_seconds"]), (6, 4, 0))
        for mode in ("bm25", "vector", "hybrid"):
            self.assertEqual(d["modes"][mode]["quality"], {})
            self.assertGreater(d["modes"][mode]["latency"]["median_ms"], 0)
        self.assertError(self.rk("bench", speed, "--no-ingest", index=None),
                         mentions=["--index"])
        self.assertError(self.rk("bench", speed), mentions=["corpus.jsonl"])
        # The judged dataset, measured without ingest, gives the figures of a full run.
        full = self.report()
        r = self.rk("bench", self.ds, "--no-ingest", "--repeat", "1", "--report", path)
        with open(path, encoding="utf-8") as f:
            again = json.load(f)["datasets"][0]
        for mode in ("bm25", "vector", "hybrid"):
            self.assertEqual(again["modes"][mode]["quality"],
                             full["datasets"][0]["modes"][mode]["quality"])
