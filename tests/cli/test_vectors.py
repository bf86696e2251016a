"""Vectors and hybrid search: modes, fusion, --explain, filters, and vectors.hnsw kept right
through removals, a missing or damaged file, and a kill between commit and rename."""

import fcntl
import glob
import json
import os
import random
import shutil
import signal
import subprocess

from rkcli import TIMEOUT, RkTestCase

DOCS = [
    {"_id": "sky", "title": "Dusk", "text": "the colour of the sky at dusk is a deep orange"},
    {"_id": "bread", "title": "Baking", "text": "bread recipes with yeast, flour and water"},
    {"_id": "net", "title": "Networking", "text": "retrying connections with exponential backoff",
     "lang": "en"},
    {"_id": "netfr", "title": "Réseau", "text": "connexions retentées avec attente exponentielle",
     "lang": "fr"},
]


class Vectors(RkTestCase):
    def setUp(self):
        super().setUp()
        self.corpus = self.write_jsonl("c.jsonl", DOCS)
        self.ok("-q", "ingest", self.corpus)
        # The graph built during the ingest was saved, and reflects rk.db.
        self.assertTrue(os.path.exists(self.graph_file()))

    def ids(self, *args, expect=(0,)):
        r = self.rk("query", "--format", "json", *args)
        self.assertIn(r.code, expect, r)
        return [h["id"] for h in r.json()["results"]] if r.code == 0 else []

    def graph_file(self):
        return os.path.join(self.index, "vectors.hnsw")

    def test_vectors_find_what_words_miss(self):
        # "color" is not a word of any document; its n-grams are in "colour".
        self.assertEqual(self.ids("--mode", "bm25", "color", expect=(1,)), [])
        self.assertEqual(self.ids("--mode", "vector", "color")[0], "sky")
        self.assertEqual(self.ids("color")[0], "sky")  # hybrid is the default
        # Nothing near: every mode finds nothing and exits 1.
        for mode in ("bm25", "vector", "hybrid"):
            self.assertEqual(self.ids("--mode", mode, "zyzzyva", expect=(1,)), [], mode)

    def test_explain_shows_each_signal(self):
        r = self.ok("query", "--format", "json", "--explain", "exponential backoff")
        top = r.json()["results"][0]
        self.assertEqual(top["id"], "net")
        self.assertEqual(top["signals"]["bm25"]["rank"], 1)
        self.assertEqual(top["signals"]["vector"]["rank"], 1)
        # Min-max fusion with the default weights: the best of each list scores 1, times 1
        # for BM25 and 0.4 for the vectors.
        self.assertAlmostEqual(top["score"], 1.4, places=9)
        text = self.ok("query", "--explain", "--color", "never", "color").out
        self.assertIn("bm25 - · vector #1", text)
        # Without --explain, no signals.
        r = self.ok("query", "--format", "json", "backoff")
        self.assertNotIn("signals", r.json()["results"][0])

    def test_fusion_options(self):
        r = self.ok("query", "--format", "json", "--explain", "--fusion",
                    "rrf,k=10,bm25=1,vector=1", "exponential backoff")
        self.assertAlmostEqual(r.json()["results"][0]["score"], 2 / 11, places=9)
        # RRF's own default weights are 2 and 1 (min-max's 1 and 0.4).
        r = self.ok("query", "--format", "json", "--explain", "--fusion", "rrf",
                    "exponential backoff")
        top = r.json()["results"][0]
        self.assertEqual((top["signals"]["bm25"]["rank"], top["signals"]["vector"]["rank"]),
                         (1, 1))
        self.assertAlmostEqual(top["score"], 3 / 81, places=9)
        # Min-max: the best of a list scores its weight. A BM25 list shorter than the depth
        # holds every match: its last still scores more than a document without the words.
        self.ok("-q", "ingest", self.write_jsonl("more.jsonl", [
            {"_id": "ops", "title": "Operations", "text": "backoff when a service is overloaded"},
            {"_id": "db", "title": "Databases", "text": "exponential growth of tables"}]))
        r = self.ok("query", "--format", "json", "--explain", "--fusion",
                    "minmax,bm25=1,vector=0", "exponential backoff")
        results = r.json()["results"]
        self.assertAlmostEqual(results[0]["score"], 1.0, places=9)
        matched = [h for h in results if h["signals"]["bm25"]["rank"] is not None]
        self.assertEqual(len(matched), 3)
        self.assertGreater(matched[-1]["score"], 0.0)
        self.assertTrue(all(h["score"] == 0.0 for h in results if h not in matched))
        r = self.ok("query", "--format", "json", "--fusion", "weighted,bm25=1,vector=0",
                    "exponential backoff")
        self.assertAlmostEqual(r.json()["results"][0]["score"], 1.0, places=9)
        for bad in ("k=-1", "fancy", "bm25=x", "vector"):
            self.assertError(self.rk("query", "--fusion", bad, "x"), 2, mentions=[bad])
        self.assertError(self.rk("query", "--mode", "semantic", "x"), 2, mentions=["semantic"])

    def test_filters_hold_in_vector_mode(self):
        for search in ("auto", "exact", "hnsw"):
            got = self.ids("--mode", "vector", "--vector-search", search, "--where", "lang=fr",
                           "connexions exponentielle")
            self.assertEqual(got, ["netfr"], search)
            got = self.ids("--mode", "vector", "--vector-search", search, "--path", "ne*",
                           "connections retrying")
            self.assertEqual(set(got), {"net", "netfr"} & set(got), search)
            self.assertEqual(got[0], "net")

    def test_removed_and_updated_documents_leave_the_graph(self):
        self.ok("rm", "net")
        self.assertNotIn("net", self.ids("--mode", "vector", "--vector-search", "hnsw",
                                         "exponential backoff retrying", expect=(0, 1)))
        docs = [dict(d) for d in DOCS]
        docs[1]["text"] = "exponential backoff for retrying connections"
        self.ok("-q", "ingest", self.write_jsonl("c2.jsonl", docs))
        # Back in the graph, and bread with its new text next to it.
        self.assertEqual(set(self.ids("--mode", "vector", "--vector-search", "hnsw",
                                      "exponential backoff retrying")[:2]), {"net", "bread"})
        self.ok("index", "optimize")
        r = self.ok("index", "verify")
        self.assertNotIn("note", r.err)
        stats = self.stats()
        self.assertEqual(stats["vectors"]["count"], stats["chunks"])
        self.assertEqual(stats["vectors"]["dimension"], 4096)
        self.assertGreater(stats["vectors"]["graph_bytes"], 0)

    def test_missing_graph_is_rebuilt_with_a_note(self):
        os.remove(self.graph_file())
        r = self.ok("query", "--mode", "vector", "--vector-search", "hnsw", "color")
        self.assertIn("vectors.hnsw is missing", r.err)
        self.assertIn("rebuilt", r.err)
        self.assertTrue(os.path.exists(self.graph_file()))
        r = self.ok("query", "--mode", "vector", "--vector-search", "hnsw", "color")
        self.assertEqual(r.err, "")  # repaired once, for good

    def test_damaged_graph_is_rebuilt_with_a_note(self):
        with open(self.graph_file(), "rb") as f:
            good = f.read()
        damages = {
            "truncated": good[: len(good) // 2],
            "garbage": os.urandom(len(good)),
            "empty": b"",
            "bit flip in the header": good[:100] + bytes([good[100] ^ 0x40]) + good[101:],
            # Found by the search that reads the node, not when the file is opened.
            "bit flip in a node": good[:300] + bytes([good[300] ^ 0x40]) + good[301:],
        }
        for name, data in damages.items():
            with self.subTest(name):
                with open(self.graph_file(), "wb") as f:
                    f.write(data)
                # (An index this small is searched without its graph unless told to.)
                r = self.ok("query", "--mode", "vector", "--vector-search", "hnsw", "--format",
                            "json", "color")
                self.assertIn("vectors.hnsw", r.err)
                self.assertIn("rebuilt it from rk.db", r.err)
                self.assertEqual(r.json()["results"][0]["id"], "sky")
                self.assertNotIn("note", self.ok("index", "verify").err)
                with open(self.graph_file(), "rb") as f:
                    self.assertEqual(f.read()[:8], b"rk-hnsw\n")

    def test_kill_between_commit_and_rename_is_repaired(self):
        more = self.write_jsonl("more.jsonl", [{"_id": "late", "title": "Late",
                                                "text": "a harpsichord sonata in d minor"}])
        r = self.rk("ingest", more, env={"RK_TEST_KILL_AT": "graph-rename"})
        self.assertEqual(r.code, -signal.SIGKILL, r)
        # The commit happened; the rename did not: the graph on disk is the old one.
        self.assertTrue(glob.glob(self.graph_file() + ".tmp-*"))
        r = self.ok("query", "--mode", "vector", "--vector-search", "hnsw", "--format", "json",
                    "harpsichord sonata")
        self.assertIn("behind rk.db", r.err)
        self.assertEqual(r.json()["results"][0]["id"], "late")
        self.assertFalse(glob.glob(self.graph_file() + ".tmp-*"))
        self.assertNotIn("note", self.ok("index", "verify").err)
        self.assertEqual(self.ok("query", "--mode", "vector", "harpsichord").err, "")

    def test_kill_while_the_graph_is_built_is_repaired(self):
        # An ingest of many small transactions, whose vectors the background builder takes (all
        # or in part, as timing decides); rk kills itself once the rest are in the graph too,
        # before any save.
        docs = [{"_id": f"n{i}", "title": f"Note {i}", "text": f"harpsichord sonata {i} in d"}
                for i in range(300)]
        r = self.rk("ingest", self.write_jsonl("many.jsonl", docs),
                    env={"RK_TEST_KILL_AT": "graph-build", "RK_TEST_COMMIT_BYTES": "2000"})
        self.assertEqual(r.code, -signal.SIGKILL, r)
        # Every committed document is there, the graph file is the old one: the next search
        # through the graph brings it up to date, and the index verifies.
        r = self.ok("query", "--mode", "vector", "--vector-search", "hnsw", "--format", "json",
                    "-k", "3", "harpsichord sonata 17")
        self.assertIn("behind rk.db", r.err)
        self.assertEqual(r.json()["results"][0]["id"], "n17")
        self.assertEqual(self.stats()["documents"], len(DOCS) + 300)
        self.assertNotIn("note", self.ok("index", "verify").err)
        self.assertEqual(self.ok("query", "--mode", "vector", "--vector-search", "hnsw",
                                 "harpsichord").err, "")

    def test_readers_search_new_vectors_while_a_writer_works(self):
        old = self.path("old.hnsw")
        shutil.copy(self.graph_file(), old)
        more = self.write_jsonl("more.jsonl", [{"_id": "late", "title": "Late",
                                                "text": "a harpsichord sonata in d minor"}])
        self.ok("-q", "ingest", more)
        shutil.copy(old, self.graph_file())  # as if the writer had not saved its graph yet
        fd = os.open(os.path.join(self.index, "lock"), os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            for search in ("exact", "hnsw"):
                r = self.ok("query", "--mode", "vector", "--vector-search", search, "--format",
                            "json", "harpsichord sonata")
                self.assertEqual(r.json()["results"][0]["id"], "late", search)
                self.assertEqual(r.err, "")  # nothing to repair: the writer will save
            with open(self.graph_file(), "rb") as f, open(old, "rb") as g:
                self.assertEqual(f.read(), g.read(), "a reader wrote the graph under a writer")
        finally:
            os.close(fd)
        r = self.ok("query", "--mode", "vector", "--vector-search", "hnsw", "--format", "json",
                    "harpsichord sonata")
        self.assertIn("behind rk.db", r.err)

    def test_another_embedder_is_a_clear_error(self):
        conn = self.db()
        conn.execute("UPDATE settings SET value = 'builtin:1024' WHERE key = 'embedder'")
        conn.commit()
        r = self.rk("query", "color")
        self.assertError(r, 2, mentions=["4096", "1024", "another embedder"])
        conn.execute("UPDATE settings SET value = 'model2vec:/models/x' WHERE key = 'embedder'")
        conn.commit()
        self.assertError(self.rk("query", "color"), 2, mentions=["model2vec:/models/x"])

    def test_a_graph_of_another_dimension_is_rebuilt(self):
        other = self.path("small")
        self.ok("init", other, "--embedder", "builtin:256", index=None)
        self.ok("-q", "--index", other, "ingest", self.corpus, index=None)
        self.assertEqual(self.stats(index=other)["vectors"]["dimension"], 256)
        self.assertEqual(self.stats(index=other)["settings"]["embedder"], "builtin:256")
        shutil.copy(os.path.join(other, "vectors.hnsw"), self.graph_file())
        r = self.ok("query", "--mode", "vector", "--vector-search", "hnsw", "color")
        self.assertIn("codes of 256 bits", r.err)
        self.assertError(self.rk("init", self.path("bad"), "--embedder", "builtin:1000",
                                 index=None), 2, mentions=["1000"])


class HybridInTwoThreads(RkTestCase):
    """Hybrid search reads its vector signal on a second connection in a second thread, and
    the two threads share the exact scoring of the vector candidates."""

    def corpus(self, n, seed=3):
        rnd = random.Random(seed)
        words = [f"{a}{b}" for a in ("sol", "mar", "tek", "vin", "dor", "pal")
                 for b in ("ax", "ine", "ora", "ul", "em", "ist", "ond")]
        return [{"_id": f"d{i:04d}", "text": " ".join(rnd.choices(words, k=rnd.randint(8, 30)))}
                for i in range(n)]

    def test_each_candidate_is_scored_as_vector_mode_scores_it(self):
        self.ok("-q", "ingest", self.write_jsonl("c.jsonl", self.corpus(400)))
        for text in ("solax marine", "tekul vinora dorem", "palist solond marax tekine"):
            exact = self.ok("query", "--mode", "vector", "--vector-search", "exact", "--format",
                            "json", "-k", "400", text).json()["results"]
            by_id = {h["id"]: h["score"] for h in exact}
            r = self.ok("query", "--format", "json", "--explain", "-k", "100", text)
            hits = r.json()["results"]
            vector = sorted((h["signals"]["vector"]["rank"], h["id"], h["signals"]["vector"]["score"])
                            for h in hits if h["signals"]["vector"]["rank"])
            self.assertGreater(len(vector), 50, text)
            for rank, doc, score in vector:
                self.assertAlmostEqual(score, by_id[doc], places=12, msg=(text, doc))
            # The vector list is in the order of those scores (ties by position).
            scores = [s for _, _, s in vector]
            self.assertEqual(scores, sorted(scores, reverse=True), text)
            self.assertEqual(r.json()["stats"]["rescored"], 132, text)

    def test_queries_while_a_writer_commits_read_one_snapshot(self):
        self.ok("-q", "ingest", self.write_jsonl("c.jsonl", self.corpus(300)))
        more = self.write_jsonl("more.jsonl", self.corpus(1500, seed=4)[300:])
        p = subprocess.Popen([self.RK, "--index", self.index, "-q", "ingest", more],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.work,
                             env={**self.env, "RK_TEST_COMMIT_BYTES": "3000"},
                             stdin=subprocess.DEVNULL)
        try:
            runs = 0
            while p.poll() is None or runs < 5:
                r = self.ok("query", "--format", "json", "--explain", "-k", "20",
                            "solax marine tekul")
                self.assertEqual(r.err, "")
                hits = r.json()["results"]
                self.assertTrue(hits)
                for h in hits:
                    signals = h["signals"]
                    self.assertTrue(signals["bm25"]["rank"] or signals["vector"]["rank"])
                runs += 1
        finally:
            out, err = p.communicate(timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, err.decode())
        self.assertEqual(self.stats()["documents"], 1500)
        self.ok("index", "verify")


class NoVectors(RkTestCase):
    """`rk init --embedder none`: a lexical-only index, end to end."""

    def setUp(self):
        super().setUp()
        self.ok("init", "--embedder", "none")
        self.corpus = self.write_jsonl("c.jsonl", DOCS)
        self.ok("-q", "ingest", self.corpus)

    def test_bm25_is_the_default_and_vectors_are_refused(self):
        r = self.ok("query", "--format", "json", "exponential backoff")
        self.assertEqual(r.json()["mode"], "bm25")
        self.assertEqual(r.json()["results"][0]["id"], "net")
        self.assertEqual(self.ok("query", "--mode", "bm25", "backoff").code, 0)
        for mode in ("vector", "hybrid"):
            self.assertError(self.rk("query", "--mode", mode, "backoff"), 2,
                             mentions=[mode, "none", "--mode bm25"])
        # Nothing near is still a negative answer, not an error.
        self.assertEqual(self.rk("query", "zyzzyva").code, 1)

    def test_no_vectors_are_stored_and_the_index_holds_up(self):
        self.assertFalse(os.path.exists(os.path.join(self.index, "vectors.hnsw")))
        stats = self.stats()
        self.assertEqual(stats["settings"]["embedder"], "none")
        self.assertEqual(stats["vectors"],
                         {"count": 0, "dimension": 0, "bytes_per_chunk": 0, "graph_bytes": 0})
        self.assertEqual(self.db().execute("SELECT count(*) FROM vectors").fetchone()[0], 0)
        docs = [dict(d) for d in DOCS]
        docs[1]["text"] = "exponential backoff for retrying connections"
        self.ok("-q", "ingest", self.write_jsonl("c2.jsonl", docs))
        self.ok("rm", "sky")
        for command in (("index", "rebuild"), ("index", "optimize"), ("index", "verify")):
            r = self.ok(*command)
            self.assertNotIn("vectors.hnsw", r.err)
        self.assertFalse(os.path.exists(os.path.join(self.index, "vectors.hnsw")))
        r = self.rk("query", "--format", "json", "yeast")  # bread's old text, replaced
        self.assertEqual((r.code, r.json()["results"]), (1, []))
        got = [h["id"] for h in
               self.ok("query", "--format", "json", "backoff retrying").json()["results"]]
        self.assertEqual(sorted(got), ["bread", "net"])

    def test_servers_and_bench_follow_the_index(self):
        r = self.ok("mcp", stdin=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                             "params": {"name": "search",
                                                        "arguments": {"query": "backoff"}}}) + "\n")
        reply = json.loads(r.out.splitlines()[0])
        self.assertIn("bm25", json.dumps(reply))
        self.assertFalse(reply["result"].get("isError", False), reply)
        ds = self.path("ds")
        self.write_jsonl("ds/queries.jsonl", [{"_id": "q1", "text": "backoff"}])
        report = self.path("r.json")
        self.ok("bench", ds, "--no-ingest", "--repeat", "1", "--report", report)
        with open(report, encoding="utf-8") as f:
            self.assertEqual(list(json.load(f)["datasets"][0]["modes"]), ["bm25"])
        self.assertError(self.rk("bench", ds, "--no-ingest", "--mode", "vector"), 2,
                         mentions=["none"])
