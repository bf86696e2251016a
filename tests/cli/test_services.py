"""Embedding and reranking services over HTTP, against tests/cli/fake_service.py: rerank
(`rk query --rerank`, config, bench, serve, mcp), its retries and failures, the key kept
secret, and the openai:/ollama: embedders from rk init to queries, with their faults."""

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request

from rkcli import RkTestCase

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET = "sk-test-7f3a9c1e5b"

DOCS = [
    {"_id": "a", "title": "Retry with backoff", "text": "exponential backoff for retries"},
    {"_id": "b", "title": "Backoff drafts", "text": "a draft about backoff and jitter"},
    {"_id": "c", "title": "Backoff in queues", "text": "queues back off when consumers lag"},
    {"_id": "d", "title": "Caching", "text": "keep answers close to the caller, backoff"},
    {"_id": "e", "title": "Timeouts", "text": "every remote call needs a timeout"},
]


class FakeService:
    """fake_service.py on a free loopback port; its request log, read back."""

    def __init__(self, test, *args, dim=64):
        self.log = test.path(f"service-{time.monotonic_ns()}.jsonl")
        self.p = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "fake_service.py"), "--log", self.log,
             "--dim", str(dim), *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        test.addCleanup(self.stop)
        line = self.p.stdout.readline().decode()
        if not line.startswith("port "):
            raise AssertionError(f"fake_service.py did not start: {line!r}")
        self.base = f"http://127.0.0.1:{int(line.split()[1])}"

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        self.p.stdout.close()

    def control(self, **settings):
        r = urllib.request.Request(self.base + "/_control", data=json.dumps(settings).encode(),
                                   headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(r, timeout=10) as resp:
            resp.read()

    def requests(self, path=None):
        if not os.path.exists(self.log):
            return []
        with open(self.log, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        return [r for r in rows if path is None or r["path"] == path]


def dead_port():
    """A loopback port nobody listens on (bound, then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Rerank(RkTestCase):
    def setUp(self):
        super().setUp()
        self.ok("-q", "ingest", self.write_jsonl("docs.jsonl", DOCS))
        self.fused = self.ids("backoff")

    def ids(self, *args, expect=0, **kw):
        r = self.rk("query", "--format", "json", *args, **kw)
        self.assertEqual(r.code, expect, r)
        return [h["id"] for h in r.json()["results"]]

    def query(self, service, *args, spec="model=rr", **kw):
        return self.rk("query", "backoff", "--format", "json",
                       "--rerank", f"{service.base}/v1/rerank?{spec}", *args, **kw)

    def assertWarnedFused(self, r, *mentions):
        """Exit 0, the fused order, and one warning line naming each of `mentions`."""
        self.assertEqual(r.code, 0, r)
        self.assertEqual([h["id"] for h in r.json()["results"]], self.fused, r)
        self.assertTrue(all("rerank" not in h for h in r.json()["results"]), r)
        warnings = [x for x in r.err.splitlines() if x.startswith("rk: warning:")]
        self.assertEqual(len(warnings), 1, r)
        self.assertIn("reranking failed", warnings[0])
        for m in mentions:
            self.assertIn(m, warnings[0], r)

    def test_reorders_the_top_hits(self):
        self.assertGreaterEqual(len(self.fused), 4)
        svc = FakeService(self, "--rerank", "reverse")
        r = self.query(svc)
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.err, "")
        results = r.json()["results"]
        self.assertEqual([h["id"] for h in results], self.fused[::-1])
        scores = [h["rerank"] for h in results]
        self.assertEqual(scores, sorted(scores, reverse=True))
        self.assertEqual([h["score"] for h in results], scores)
        [req] = svc.requests("/v1/rerank")
        self.assertEqual(req["body"]["model"], "rr")
        self.assertEqual(req["body"]["query"], "backoff")
        self.assertEqual(req["body"]["top_n"], len(self.fused))
        self.assertEqual(len(req["body"]["documents"]), len(self.fused))
        # The title leads each document's text, in the fused order.
        titles = {d["_id"]: d["title"] for d in DOCS}
        for doc, hit in zip(req["body"]["documents"], self.fused):
            self.assertTrue(doc.startswith(titles[hit]), (doc, hit))

    def test_explain_and_jsonl_show_the_rerank_score(self):
        svc = FakeService(self, "--rerank", "reverse")
        url = f"{svc.base}/v1/rerank?model=rr"
        text = self.ok("query", "backoff", "--explain", "--rerank", url).out
        self.assertIn("· rerank 1.000", text)
        lines = self.ok("query", "backoff", "--format", "jsonl", "--rerank", url).jsonl()
        self.assertTrue(all("rerank" in x for x in lines))

    def test_tei_bare_array(self):
        svc = FakeService(self, "--rerank", "tei")
        r = self.query(svc)
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.err, "")
        self.assertTrue(all("rerank" in h for h in r.json()["results"]))

    def test_depth_limits_what_is_sent_and_the_rest_follow(self):
        svc = FakeService(self, "--rerank", "reverse")
        ids = [h["id"] for h in self.query(svc, "--rerank-depth", "2").json()["results"]]
        self.assertEqual(ids, self.fused[:2][::-1] + self.fused[2:])
        [req] = svc.requests("/v1/rerank")
        self.assertEqual(len(req["body"]["documents"]), 2)
        # Deeper than k: the reranker sees more than is shown.
        svc2 = FakeService(self, "--rerank", "reverse")
        ids = [h["id"] for h in self.query(svc2, "-k", "1").json()["results"]]
        self.assertEqual(ids, [self.fused[-1]])
        self.assertEqual(len(svc2.requests()[0]["body"]["documents"]), len(self.fused))

    def test_chunks(self):
        svc = FakeService(self, "--rerank", "reverse")
        r = self.query(svc, "--chunks")
        self.assertEqual(r.code, 0, r)
        self.assertTrue(all("rerank" in h for h in r.json()["results"]))

    def test_failures_keep_the_fused_order(self):
        for fault, mentions in [("500", ["HTTP 500", "the model fell over", "3 times"]),
                                ("malformed", ["not JSON"]),
                                ("wrong-count", ["names no document"]),
                                ("404", ["no such endpoint or model"])]:
            with self.subTest(fault=fault):
                svc = FakeService(self, "--fault", fault)
                self.assertWarnedFused(self.query(svc), svc.base + "/v1/rerank", *mentions)
        # 404 is not retried; 500 is, twice.
        self.assertEqual(len(svc.requests()), 1)

    def test_timeout(self):
        svc = FakeService(self, "--fault", "slow", "--slow", "5")
        t0 = time.monotonic()
        r = self.query(svc, spec="model=rr&timeout=0.5&retries=0")
        self.assertLess(time.monotonic() - t0, 4)
        self.assertWarnedFused(r, "0.5 s")

    def test_connection_refused(self):
        class Dead:
            base = f"http://127.0.0.1:{dead_port()}"
        self.assertWarnedFused(self.query(Dead), "could not connect")

    def test_429_is_retried_after_retry_after(self):
        svc = FakeService(self, "--fault", "429", "--fault-times", "1", "--retry-after", "2",
                          "--rerank", "reverse")
        t0 = time.monotonic()
        r = self.query(svc)
        self.assertGreaterEqual(time.monotonic() - t0, 2)
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.err, "")
        self.assertEqual([h["id"] for h in r.json()["results"]], self.fused[::-1])
        self.assertEqual(len(svc.requests()), 2)

    def test_500_then_success(self):
        svc = FakeService(self, "--fault", "500", "--fault-times", "1", "--rerank", "reverse")
        r = self.query(svc)
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.err, "")
        self.assertEqual([h["id"] for h in r.json()["results"]], self.fused[::-1])

    def test_refused_key_is_not_retried_and_never_shown(self):
        svc = FakeService(self, "--fault", "401")
        r = self.query(svc, "-vv", env={"OPENAI_API_KEY": SECRET})
        self.assertWarnedFused(r, "refused the key", "HTTP 401")
        self.assertEqual(len(svc.requests()), 1)
        self.assertNotIn(SECRET, r.out + r.err)
        self.assertEqual(svc.requests()[0]["headers"]["Authorization"], f"Bearer {SECRET}")

    def test_key_reaches_the_server_and_nowhere_else(self):
        svc = FakeService(self, "--rerank", "reverse")
        r = self.query(svc, "-vv", "--explain", env={"OPENAI_API_KEY": SECRET})
        self.assertEqual(r.code, 0, r)
        self.assertNotIn(SECRET, r.out + r.err)
        self.assertEqual(svc.requests()[0]["headers"]["Authorization"], f"Bearer {SECRET}")
        # key_env names another variable; without a key no Authorization is sent.
        svc2 = FakeService(self)
        self.query(svc2, spec="model=rr&key_env=RERANK_KEY", env={"RERANK_KEY": "other-key"})
        self.assertEqual(svc2.requests()[0]["headers"]["Authorization"], "Bearer other-key")
        svc3 = FakeService(self)
        self.query(svc3, env={"OPENAI_API_KEY": None})
        self.assertNotIn("Authorization", svc3.requests()[0]["headers"])

    def test_bad_specs_are_usage_errors(self):
        for spec in ["ftp://x/rerank?model=m", "http://127.0.0.1:1/r?model=m&colour=red",
                     "http://127.0.0.1:1/r?model=m&timeout=never"]:
            with self.subTest(spec=spec):
                r = self.rk("query", "backoff", "--rerank", spec)
                self.assertError(r)

    def test_config_default(self):
        svc = FakeService(self, "--rerank", "reverse")
        self.write(os.path.join(self.index, "config.toml"),
                   f'[query]\nrerank = "{svc.base}/v1/rerank?model=rr"\nrerank-depth = 3\n')
        self.assertEqual(self.ids("backoff"), self.fused[:3][::-1] + self.fused[3:])

    def test_batch_warns_once(self):
        self.write("q.txt", "backoff\nqueues\ncaching\n")
        r = self.rk("query", "--batch", self.path("q.txt"), "--format", "trec",
                    "--rerank", f"http://127.0.0.1:{dead_port()}/v1/rerank?model=m&retries=0")
        self.assertEqual(r.code, 0, r)
        self.assertEqual(len([x for x in r.err.splitlines() if "warning" in x]), 1, r)

    def test_serve_and_mcp(self):
        svc = FakeService(self, "--rerank", "reverse")
        url = f"{svc.base}/v1/rerank?model=rr"
        p = subprocess.Popen([self.RK, "--index", self.index, "serve", "--port", "0",
                              "--rerank", url], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=self.env)
        try:
            base = p.stderr.readline().decode().split()[-1]
            with urllib.request.urlopen(base + "/search?q=backoff", timeout=30) as resp:
                body = json.loads(resp.read())
            self.assertEqual([h["id"] for h in body["results"]], self.fused[::-1])
            with urllib.request.urlopen(base + "/search?q=backoff&rerank=", timeout=30) as resp:
                body = json.loads(resp.read())
            self.assertEqual([h["id"] for h in body["results"]], self.fused)
            dead = f"http://127.0.0.1:{dead_port()}/r?retries=0"
            q = urllib.parse.urlencode({"q": "backoff", "rerank": dead})
            with urllib.request.urlopen(base + "/search?" + q, timeout=30) as resp:
                body = json.loads(resp.read())
            self.assertEqual([h["id"] for h in body["results"]], self.fused)
            self.assertIn("reranking failed", body["warnings"][0])
        finally:
            p.terminate()
            p.wait(timeout=30)
            p.stderr.close()
        msgs = [
            {"jsonrpc": "2.0", "id": 1, "method": "initialize",
             "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                        "clientInfo": {"name": "t", "version": "1"}}},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
             "params": {"name": "search", "arguments": {"query": "backoff", "rerank": url,
                                                         "rerank_depth": 2}}},
        ]
        r = self.ok("mcp", stdin="".join(json.dumps(m) + "\n" for m in msgs))
        reply = [json.loads(x) for x in r.out.splitlines()][-1]
        result = reply["result"]["structuredContent"]
        self.assertEqual([h["id"] for h in result["results"]],
                         self.fused[:2][::-1] + self.fused[2:])

    def test_bench(self):
        ds = self.path("tiny")
        self.write_jsonl("tiny/corpus.jsonl", DOCS)
        self.write_jsonl("tiny/queries.jsonl", [{"_id": "q1", "text": "backoff retries"}])
        self.write("tiny/qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\ta\t1\n")
        svc = FakeService(self)
        r = self.rk("bench", ds, "--repeat", "1", "--warmup", "0", "--mode", "bm25",
                    "--rerank", f"{svc.base}/v1/rerank?model=rr", index=None)
        self.assertEqual(r.code, 0, r)
        self.assertGreaterEqual(len(svc.requests()), 2)
        r = self.rk("bench", ds, "--repeat", "1", "--warmup", "0", "--mode", "bm25",
                    "--rerank", f"http://127.0.0.1:{dead_port()}/r?retries=0", index=None)
        self.assertError(r, mentions=["reranking failed"])


class RemoteEmbedders(RkTestCase):
    """openai: and ollama: embedders, from rk init to queries, and their faults."""

    DIM = 48

    def init(self, spec, *args, **kw):
        r = self.rk("init", "--embedder", spec, *args, **kw)
        self.assertEqual(r.code, 0, r)
        return r

    def embedded(self):
        """The texts sent for embedding so far (the probe's included)."""
        return [t for x in self.svc.requests("/v1/embeddings") for t in x["body"]["input"]]

    def setUp(self):
        super().setUp()
        self.svc = FakeService(self, dim=self.DIM)

    def test_openai_end_to_end(self):
        self.init(f"openai:{self.svc.base}/v1/?model=m", env={"OPENAI_API_KEY": SECRET})
        self.assertEqual(self.stats()["vectors"]["dimension"], self.DIM)
        [probe] = self.svc.requests("/v1/embeddings")
        self.assertEqual(probe["body"]["model"], "m")
        r = self.rk("-vv", "ingest", self.write_jsonl("docs.jsonl", DOCS),
                    env={"OPENAI_API_KEY": SECRET})
        self.assertEqual(r.code, 0, r)
        self.assertNotIn(SECRET, r.out + r.err)
        self.assertTrue(all(x["headers"].get("Authorization") == f"Bearer {SECRET}"
                            for x in self.svc.requests()))
        with open(os.path.join(self.index, "rk.db"), "rb") as f:
            self.assertNotIn(SECRET.encode(), f.read())
        r = self.rk("-vv", "query", "timeout remote call", "--mode", "vector", "--format", "json",
                    env={"OPENAI_API_KEY": SECRET})
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.json()["results"][0]["id"], "e")
        self.assertNotIn(SECRET, r.out + r.err)

    def test_ollama(self):
        self.init(f"ollama:{self.svc.base}?model=m")
        self.ok("-q", "ingest", self.write_jsonl("docs.jsonl", DOCS))
        self.assertTrue(self.svc.requests("/api/embed"))
        r = self.ok("query", "caching answers caller", "--mode", "vector", "--format", "json")
        self.assertEqual(r.json()["results"][0]["id"], "d")

    def test_wrong_dimension_later_is_an_error(self):
        self.init(f"openai:{self.svc.base}/v1?model=m")
        self.ok("-q", "ingest", self.write_jsonl("docs.jsonl", DOCS))
        self.svc.control(dim=self.DIM * 2)
        r = self.rk("query", "backoff", "--mode", "vector")
        self.assertError(r, mentions=["dimensions"])

    def test_service_down(self):
        self.init(f"openai:{self.svc.base}/v1?model=m")
        self.ok("-q", "ingest", self.write_jsonl("docs.jsonl", DOCS))
        self.svc.stop()
        r = self.rk("query", "backoff", "--mode", "hybrid", "--format", "json")
        self.assertEqual(r.code, 0, r)
        self.assertIn("rk: warning:", r.err)
        self.assertTrue(r.json()["results"])
        r = self.rk("query", "backoff", "--mode", "vector")
        self.assertError(r, mentions=[self.svc.base])

    def test_faults_at_ingest(self):
        self.init(f"openai:{self.svc.base}/v1?model=m")
        self.svc.control(fault="wrong-count")
        r = self.rk("ingest", self.write_jsonl("docs.jsonl", DOCS))
        self.assertNotEqual(r.code, 0, r)
        self.assertIn("vectors for", r.err)
        self.svc.control(fault="401")
        r = self.rk("ingest", self.write_jsonl("docs.jsonl", DOCS))
        self.assertIn("refused the key", r.err)
        self.svc.control(fault="malformed")
        r = self.rk("ingest", self.write_jsonl("docs.jsonl", DOCS))
        self.assertError(r, mentions=[self.svc.base])
        self.assertEqual(self.stats()["documents"], 0)
        # Retried, and then all is well: 429 (after its Retry-After) and 500.
        for fault in ("429", "500"):
            self.svc.control(fault=fault, fault_times=1, retry_after=0)
            docs = [dict(d, _id=f"{fault}-{d['_id']}") for d in DOCS]
            self.ok("-q", "ingest", self.write_jsonl(f"docs-{fault}.jsonl", docs))
        self.assertEqual(self.stats()["documents"], 10)
        self.ok("index", "verify")

    def test_a_slow_reply_is_given_up_and_asked_again(self):
        self.init(f"openai:{self.svc.base}/v1?model=m&timeout=1")
        self.svc.control(fault="slow", fault_times=1, slow=3)
        t0 = time.monotonic()
        self.ok("-q", "ingest", self.write_jsonl("docs.jsonl", DOCS))
        self.assertLess(time.monotonic() - t0, 10)
        self.assertEqual(len(self.svc.requests("/v1/embeddings")), 3)  # probe, slow, again
        self.assertEqual(self.stats()["documents"], len(DOCS))

    def test_init_needs_the_service(self):
        r = self.rk("init", "--embedder", f"openai:http://127.0.0.1:{dead_port()}/v1?model=m")
        self.assertError(r, mentions=["127.0.0.1"])
        self.assertFalse(os.path.exists(os.path.join(self.index, "rk.db")))
        self.svc.control(fault="wrong-dim")
        r = self.rk("init", "--embedder", f"openai:{self.svc.base}/v1?model=m")
        self.assertEqual(r.code, 0, r)  # a probe's dimension is whatever it says
        self.assertEqual(self.stats()["vectors"]["dimension"], self.DIM - 1)

    def test_a_failed_ingest_keeps_what_it_committed_and_resumes(self):
        self.init(f"openai:{self.svc.base}/v1?model=m&batch=16")
        docs = [{"_id": f"d{i}", "text": f"document {i} about topic{i % 7}"} for i in range(200)]
        # One file a document: a round holds 64, and each round is committed.
        for d in docs:
            self.write(f"docs/{d['_id']}.txt", d["text"])
        self.svc.control(fault="401", fault_after=6)  # the probe, one round, then refusals
        r = self.rk("ingest", "-r", self.path("docs"), env={"RK_TEST_COMMIT_BYTES": "1"})
        self.assertError(r, mentions=["refused the key"])
        kept = self.stats()["documents"]
        self.assertEqual(kept, 64)
        self.ok("index", "verify")
        self.svc.control(fault="")
        sent = len(self.embedded())
        self.ok("-q", "ingest", "-r", self.path("docs"))
        self.assertEqual(self.stats()["documents"], 200)
        self.assertEqual(len(self.embedded()) - sent, 200 - kept)
        self.ok("index", "verify")

    def test_only_what_is_written_is_embedded(self):
        self.init(f"openai:{self.svc.base}/v1?model=m")
        sent = len(self.embedded())
        docs = [{"_id": "a", "text": f"version {i} of a"} for i in range(3)] + [DOCS[4]]
        self.ok("-q", "ingest", self.write_jsonl("dup.jsonl", docs))
        # A record a later one with its id replaces is not sent; an unchanged one neither.
        self.assertEqual(sorted(self.embedded()[sent:]),
                         sorted(["\n\nversion 2 of a", "Timeouts\n\nevery remote call needs a timeout"]))
        sent = len(self.embedded())
        self.ok("-q", "ingest", self.write_jsonl("dup.jsonl", docs))
        self.assertEqual(len(self.embedded()), sent)

    def test_rebuild_repairs_and_import_keeps_vectors(self):
        self.init(f"openai:{self.svc.base}/v1?model=m")
        self.ok("-q", "ingest", self.write_jsonl("docs.jsonl", DOCS))
        db = sqlite3.connect(os.path.join(self.index, "rk.db"))
        db.execute("DELETE FROM vectors WHERE chunk = (SELECT min(chunk) FROM vectors)")
        db.commit()
        db.close()
        self.assertEqual(self.rk("index", "verify").code, 1)
        sent = len(self.embedded())
        self.ok("index", "rebuild")  # only the chunk without a vector is embedded
        self.assertEqual(len(self.embedded()) - sent, 1)
        self.ok("index", "verify")
        # An export's vectors go into an index of the same embedder as they are.
        self.ok("export", "--vectors", "-o", self.path("all.jsonl"))
        sent = len(self.embedded())
        copy = self.path("copy.rk")
        self.ok("--index", copy, "import", self.path("all.jsonl"), index=None)
        self.assertEqual(len(self.embedded()), sent + 1)  # the new index's probe alone
        self.ok("--index", copy, "index", "verify", index=None)
        r = self.ok("--index", copy, "query", "timeout remote call", "--mode", "vector",
                    "--format", "json", index=None)
        self.assertEqual(r.json()["results"][0]["id"], "e")

    def test_unchanged_chunks_keep_their_vectors(self):
        self.init(f"openai:{self.svc.base}/v1?model=m", "--chunk-size", "16",
                  "--chunk-overlap", "0")
        paragraphs = [" ".join(f"w{p}x{i}" for i in range(16)) for p in range(3)]
        self.write("doc.txt", "\n\n".join(paragraphs))
        self.ok("-q", "ingest", self.path("doc.txt"))
        sent = len(self.embedded())
        paragraphs[2] = " ".join(f"changed{i}" for i in range(16))
        self.write("doc.txt", "\n\n".join(paragraphs))
        r = self.ok("ingest", self.path("doc.txt"), "--json")
        self.assertEqual(r.json()["vectors_reused"], 2)
        self.assertIn("2 kept their vectors", r.err)
        self.assertEqual(len(self.embedded()) - sent, 1)
        self.ok("index", "verify")
        # rk index rebuild keeps them; --vectors asks again for every chunk.
        sent = len(self.embedded())
        self.ok("index", "rebuild")
        self.assertEqual(len(self.embedded()), sent)
        self.ok("index", "rebuild", "--vectors")
        self.assertEqual(len(self.embedded()) - sent, 3)
        self.ok("index", "verify")


if __name__ == "__main__":
    import unittest
    unittest.main()
