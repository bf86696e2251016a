"""kill -9 during `rk ingest`: the index still opens, verifies, holds only whole documents,
and a rerun resumes to completion."""

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import time
import unittest

from rkcli import TIMEOUT, RkTestCase

N_RECORDS = 20000
SEED = 20240601
KILLS = 5


def make_corpus(path):
    rnd = random.Random(SEED)
    vocab = [f"{a}{b}" for a in ("ka", "lo", "mi", "nu", "pe", "ra", "su", "to", "vi", "ze")
             for b in ("", "n", "ssa", "rith", "mo", "que", "ly", "tion", "ber", "x", "é")]
    vocab += ["the", "of", "and", "a", "to", "in", "is", "café", "naïve", "end."]
    texts = {}
    with open(path, "w", encoding="utf-8") as f:
        for i in range(N_RECORDS):
            doc_id = f"k{i:05d}"
            paras = []
            for _ in range(rnd.randint(1, 3)):
                paras.append(" ".join(rnd.choices(vocab, k=rnd.randint(40, 130))))
            text = "\n\n".join(paras)
            texts[doc_id] = text
            f.write(json.dumps({"_id": doc_id, "title": f"Record {i}", "text": text},
                               ensure_ascii=False) + "\n")
    return texts


class KillDuringIngest(RkTestCase):

    def setUp(self):
        super().setUp()
        self.corpus = self.path("corpus.jsonl")
        self.texts = make_corpus(self.corpus)

    def start_ingest(self):
        return subprocess.Popen([self.RK, "--index", self.index, "-q", "ingest", self.corpus],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, env=self.env, cwd=self.work)

    def wait_for_writer(self, p):
        """Until the writer holds the lock (it writes its pid into INDEX/lock) or exits."""
        lock = os.path.join(self.index, "lock")
        while p.poll() is None:
            try:
                with open(lock) as f:
                    if f.read().strip() == str(p.pid):
                        return
            except FileNotFoundError:
                pass
            time.sleep(0.002)

    def check_index(self, sample_rnd, sample=400):
        """The index opens and verifies; every stored document is one whole source record."""
        st = self.stats()
        self.ok("index", "verify")
        conn = sqlite3.connect(os.path.join(self.index, "rk.db"))
        try:
            docs = conn.execute("SELECT id, ext_id, body, bytes, title FROM documents").fetchall()
            self.assertEqual(len(docs), st["documents"])
            rowids = {}
            for rowid, ext_id, body, nbytes, title in docs:
                self.assertIn(ext_id, self.texts, "a document that is no source record")
                self.assertEqual(body, self.texts[ext_id], f"document {ext_id} is not whole")
                self.assertEqual(nbytes, len(body.encode("utf-8")), ext_id)
                self.assertEqual(title, f"Record {int(ext_id[1:])}", ext_id)
                rowids[ext_id] = rowid
            n_chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
            self.assertEqual(n_chunks, st["chunks"])
            # Every document has chunks that cover it exactly; all of them for a sample.
            without = conn.execute("SELECT count(*) FROM documents WHERE id NOT IN "
                                   "(SELECT doc FROM chunks)").fetchone()[0]
            self.assertEqual(without, 0, "documents without chunks")
            ids = sorted(rowids)
            for ext_id in sample_rnd.sample(ids, min(sample, len(ids))):
                body = self.texts[ext_id].encode("utf-8")
                chunks = conn.execute("SELECT seq, start, end, CAST(text AS BLOB) FROM chunks "
                                      "WHERE doc=? ORDER BY seq", (rowids[ext_id],)).fetchall()
                self.assertEqual([c[0] for c in chunks], list(range(len(chunks))), ext_id)
                covered = bytearray(len(body))
                for _, start, end, text in chunks:
                    self.assertEqual(text, body[start:end], ext_id)
                    covered[start:end] = b"\1" * (end - start)
                for m in re.finditer(rb"\S+", body):
                    self.assertTrue(all(covered[m.start():m.end()]),
                                    f"{ext_id}: word at {m.start()} not in any chunk")
        finally:
            conn.close()
        # And through the CLI, for a few.
        for ext_id in sample_rnd.sample(ids, min(3, len(ids))):
            self.assertEqual(self.ok("get", ext_id).out, self.texts[ext_id] + "\n")
        return st["documents"]

    def test_kill_9_while_the_index_is_created(self):
        # BUG: killing the first `rk ingest` (or `rk init`) right after it takes the lock,
        # while it creates rk.db, leaves an empty rk.db: every later command fails with
        # "not an rk index (no schema version)", `rk init` says "an index already exists
        # here", and the ingest cannot resume. Creation should be atomic (build the schema
        # in a temporary file and rename it into place, or treat an empty rk.db as absent).
        small = self.write_jsonl("small.jsonl", [{"_id": f"s{i}", "text": f"small record {i}"}
                                                 for i in range(50)])
        for attempt in range(3):
            with self.subTest(attempt=attempt):
                idx = self.path(f"fresh{attempt}")
                p = subprocess.Popen([self.RK, "--index", idx, "-q", "ingest", small],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, env=self.env, cwd=self.work)
                lock = os.path.join(idx, "lock")
                try:
                    while p.poll() is None:
                        try:
                            with open(lock) as f:
                                if f.read().strip() == str(p.pid):
                                    break
                        except FileNotFoundError:
                            pass
                    if p.poll() is None:
                        p.send_signal(signal.SIGKILL)
                finally:
                    p.communicate(timeout=TIMEOUT)
                if os.path.exists(os.path.join(idx, "rk.db")):
                    self.ok("stats", "--json", index=idx)
                    self.ok("index", "verify", index=idx)
                s = self.ingest_json(small, index=idx)
                self.assertEqual(s["failed"], 0)
                self.assertEqual(self.stats(index=idx)["documents"], 50)

    def test_kill_9_and_resume(self):
        # Created beforehand: a kill during creation is test_kill_9_while_the_index_is_created.
        self.init()
        rnd = random.Random(SEED + 1)
        # The first kill comes as soon as the writer holds the lock; the others later.
        delays = [0.0] + [rnd.uniform(0.05, 0.9) for _ in range(KILLS - 1)]
        counts = []
        killed_running = 0
        for delay in delays:
            p = self.start_ingest()
            try:
                self.wait_for_writer(p)
                time.sleep(delay)
                if p.poll() is None:
                    killed_running += 1
                    p.send_signal(signal.SIGKILL)
            finally:
                _, err = p.communicate(timeout=TIMEOUT)
            if p.returncode != -signal.SIGKILL:
                # It finished before the signal: then it must have succeeded.
                self.assertEqual(p.returncode, 0, err.decode())
            n = self.check_index(rnd)
            if counts:
                self.assertGreaterEqual(n, counts[-1], "a rerun lost committed documents")
            counts.append(n)

        # Resume: the rerun completes.
        r = self.rk("ingest", "--json", self.corpus)
        self.assertEqual(r.code, 0, r)
        s = r.json()
        self.assertEqual(s["failed"], 0)
        self.assertEqual(s["added"] + s["unchanged"] + s["updated"], N_RECORDS)
        self.assertEqual(s["added"], N_RECORDS - counts[-1])
        self.assertEqual(s["updated"], 0)
        self.assertEqual(self.check_index(rnd, sample=200), N_RECORDS)
        # And then there is nothing left to do.
        s = self.ingest_json(self.corpus)
        self.assertEqual((s["added"], s["updated"], s["unchanged"], s["failed"]),
                         (0, 0, N_RECORDS, 0))


if __name__ == "__main__":
    unittest.main()
