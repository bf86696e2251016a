"""rk eval: hand-computed figures, agreement to 4 decimals with an independent scorer on
runs from rk and from Xapian over the shared datasets, and its errors."""

import os
import shutil
import subprocess
import sys
import unittest

import trec_score
from rkcli import REPO_ROOT, RkTestCase, datasets_dir

METRICS = "ndcg@10,ndcg@100,recall@10,recall@100,mrr@10,map@100,p@10"
CUTS = (10, 100)


def xapian_python():
    """A Python that can import xapian (Debian's python3-xapian), or None."""
    for exe in (sys.executable, "/usr/bin/python3"):
        if exe and os.path.exists(exe) and subprocess.run(
                [exe, "-c", "import xapian"], capture_output=True).returncode == 0:
            return exe
    return None


class HandMade(RkTestCase):
    def setUp(self):
        super().setUp()
        self.qrels = self.write("q.tsv", "query-id\tcorpus-id\tscore\n"
                                "q1\td1\t2\nq1\td2\t1\nq1\td3\t0\nq2\td9\t1\nq3\td5\t1\n")
        # d1 and d2 tie: trec_eval puts the greater id first (d2). q3 is not in the run.
        self.run = self.write("r.trec", "q1 Q0 d3 1 5.0 x\nq1 Q0 d1 2 4.0 x\n"
                              "q1 Q0 d2 3 4.0 x\nq1 Q0 d7 4 1.0 x\n"
                              "q2 Q0 d8 1 2.0 x\nq2 Q0 d9 2 1.0 x\n")

    def test_figures(self):
        r = self.ok("eval", "--qrels", self.qrels, "--run", self.run, "--format", "json",
                    "--metrics", "ndcg@3,mrr@3,p@3,recall@3,map@3", index=None)
        m = r.json()["metrics"]
        self.assertEqual(r.json()["queries"], 3)
        self.assertAlmostEqual(m["nDCG@3"], 0.416942, places=5)
        self.assertAlmostEqual(m["MRR@3"], 1 / 3, places=5)
        self.assertAlmostEqual(m["P@3"], 1 / 3, places=5)
        self.assertAlmostEqual(m["Recall@3"], 2 / 3, places=5)
        self.assertAlmostEqual(m["MAP@3"], 0.361111, places=5)

    def test_trec_qrels_and_text_layout(self):
        trec = self.write("q.trec", "q1 0 d1 2\nq1 0 d2 1\nq2 0 d9 1\nq3 0 d5 1\n")
        r = self.ok("eval", "--qrels", trec, "--run", self.run, "--metrics", "mrr@3",
                    "--per-query", index=None)
        lines = [line.split("\t") for line in r.out.splitlines()]
        self.assertIn(["MRR@3       ", "q1", "0.5000"], lines)
        self.assertIn(["MRR@3       ", "q3", "0.0000"], lines)
        self.assertIn(["MRR@3       ", "all", "0.3333"], lines)

    def test_errors(self):
        bad = self.write("bad.tsv", "q1\td1\t1\nq1 d2\n")
        self.assertError(self.rk("eval", "--qrels", bad, "--run", self.run, index=None),
                         mentions=["bad.tsv:2"])
        bad_run = self.write("bad.trec", "q1 Q0 d1 1 notanumber x\n")
        self.assertError(self.rk("eval", "--qrels", self.qrels, "--run", bad_run, index=None),
                         mentions=["bad.trec:1"])
        self.assertError(self.rk("eval", "--qrels", self.qrels, "--run", self.run,
                                 "--metrics", "bleu@4", index=None), mentions=["bleu"])
        self.assertError(self.rk("eval", "--qrels", self.path("missing"), "--run", self.run,
                                 index=None), mentions=["missing"])

    def test_a_document_listed_twice_is_refused_or_counted_once(self):
        # One relevant document at ranks 1 and 2 once scored nDCG@10 1.63 and Recall 2.0.
        qrels = self.write("one.tsv", "q1\td1\t1\n")
        run = self.write("dup.trec", "q1 Q0 d1 1 3.0 x\nq1 Q0 d1 2 2.0 x\nq1 Q0 d2 3 1.0 x\n")
        r = self.rk("eval", "--qrels", qrels, "--run", run, index=None)
        self.assertError(r, mentions=["dup.trec:2", "line 1", "d1", "--dedupe"])
        r = self.ok("eval", "--qrels", qrels, "--run", run, "--dedupe", "--format", "json",
                    "--metrics", "ndcg@10,recall@100,map@100,p@10", index=None)
        m = r.json()["metrics"]
        self.assertAlmostEqual(m["nDCG@10"], 1.0, places=6)
        self.assertAlmostEqual(m["Recall@100"], 1.0, places=6)
        self.assertAlmostEqual(m["MAP@100"], 1.0, places=6)
        self.assertAlmostEqual(m["P@10"], 0.1, places=6)
        # The higher score is the one kept: d1 listed low first, then high, still ranks first.
        low_first = self.write("low.trec", "q1 Q0 d1 1 0.5 x\nq1 Q0 d2 2 1.0 x\n"
                               "q1 Q0 d1 3 2.0 x\n")
        r = self.ok("eval", "--qrels", qrels, "--run", low_first, "--dedupe", "--metrics",
                    "mrr@10", "--format", "json", index=None)
        self.assertAlmostEqual(r.json()["metrics"]["MRR@10"], 1.0, places=6)
        # The same document under two queries is two entries, not a duplicate.
        two = self.write("two.trec", "q1 Q0 d1 1 3.0 x\nq2 Q0 d1 1 3.0 x\n")
        self.ok("eval", "--qrels", qrels, "--run", two, index=None)

    def test_contradictory_judgements_are_refused(self):
        same = self.write("same.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td1\t1\n")
        r = self.ok("eval", "--qrels", same, "--run", self.run, "--format", "json", index=None)
        self.assertEqual(r.json()["queries"], 1)
        other = self.write("other.tsv", "q1\td1\t1\nq2\td1\t2\nq1\td1\t2\n")
        self.assertError(self.rk("eval", "--qrels", other, "--run", self.run, index=None),
                         mentions=["other.tsv:3", "line 1", "d1"])


class Agreement(RkTestCase):
    """rk eval and the independent scorer agree on every query and metric."""

    def compare(self, qrels, run):
        r = self.ok("eval", "--qrels", qrels, "--run", run, "--metrics", METRICS,
                    "--per-query", "--format", "json", index=None)
        ours = r.json()["per_query"]
        theirs = trec_score.measures(trec_score.load_qrels(qrels), trec_score.load_run(run), CUTS)
        self.assertEqual(sorted(ours), sorted(theirs))
        names = {"nDCG": "ndcg", "Recall": "recall", "MRR": "mrr", "MAP": "map", "P": "p"}
        compared = 0
        for qid, values in ours.items():
            for name, value in values.items():
                kind, k = name.split("@")
                self.assertAlmostEqual(value, theirs[qid][(names[kind], int(k))], places=4,
                                       msg=f"{name} of query {qid}")
                compared += 1
        means = r.json()
        self.assertGreater(compared, 0)
        return means

    def datasets(self):
        root = datasets_dir()
        found = [d for d in ("cranfield", "manpages-3")
                 if os.path.exists(os.path.join(root, d, "corpus.jsonl"))]
        if not found:
            self.skipTest(f"no shared datasets under {root}")
        return [(d, os.path.join(root, d)) for d in found]

    def test_runs_from_rk(self):
        for name, d in self.datasets():
            with self.subTest(dataset=name):
                index = self.path(f"idx-{name}")
                self.ok("-q", "ingest", os.path.join(d, "corpus.jsonl"), index=index)
                r = self.rk("query", "--batch", os.path.join(d, "queries.jsonl"), "--format",
                            "trec", "-k", "100", index=index)
                self.assertEqual(r.code, 0, r)
                run = self.write(f"{name}.rk.trec", r.out)
                self.compare(os.path.join(d, "qrels", "test.tsv"), run)

    def test_runs_from_xapian(self):
        python = xapian_python()
        if python is None:
            self.skipTest("python3-xapian is not installed")
        for name, d in self.datasets():
            with self.subTest(dataset=name):
                run = self.path(f"{name}.xapian.trec")
                subprocess.run([python, os.path.join(REPO_ROOT, "bench", "xapian_run.py"), d,
                                run, "100"], check=True, capture_output=True, timeout=600)
                self.compare(os.path.join(d, "qrels", "test.tsv"), run)


if __name__ == "__main__":
    unittest.main()
