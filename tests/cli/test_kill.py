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

    def check_index(self, sample_rnd, sample=15):
        """The index opens and verifies; every stored document is one whole source record.

        Document texts are read from rk.db's documents table (all of them); chunks through
        `rk get ID --format json` for a sample."""
        st = self.stats()
        self.ok("index", "verify")
        conn = sqlite3.connect(os.path.join(self.index, "rk.db"))
        try:
            docs = conn.execute("SELECT ext_id, body, title FROM documents").fetchall()
        finally:
            conn.close()
        self.assertEqual(len(docs), st["documents"])
        for ext_id, body, title in docs:
            self.assertIn(ext_id, self.texts, "a document that is no source record")
            self.assertEqual(body, self.texts[ext_id], f"document {ext_id} is not whole")
            self.assertEqual(title, f"Record {int(ext_id[1:])}", ext_id)
        ids = sorted(d[0] for d in docs)
        for ext_id in sample_rnd.sample(ids, min(sample, len(ids))):
            doc = self.get_json(ext_id)
            body = self.texts[ext_id].encode("utf-8")
            self.assertEqual(doc["text"].encode("utf-8"), body)
            self.assertEqual(doc["bytes"], len(body))
            chunks = doc["chunk_list"]
            self.assertEqual([c["seq"] for c in chunks], list(range(len(chunks))), ext_id)
            covered = bytearray(len(body))
            for c in chunks:
                self.assertTrue(0 <= c["start"] < c["end"] <= len(body), (ext_id, c))
                covered[c["start"]:c["end"]] = b"\1" * (c["end"] - c["start"])
            for m in re.finditer(rb"\S+", body):
                self.assertTrue(all(covered[m.start():m.end()]),
                                f"{ext_id}: word at {m.start()} not in any chunk")
        if ids:
            ext_id = sample_rnd.choice(ids)
            self.assertEqual(self.ok("get", ext_id).out, self.texts[ext_id] + "\n")
            last = self.get_json(ext_id)["chunk_list"][-1]
            got = self.ok("get", f"{ext_id}#{last['seq']}").out_bytes.rstrip(b"\n")
            self.assertEqual(got, self.texts[ext_id].encode()[last["start"]:last["end"]])
        return st["documents"]

    def test_kill_9_while_the_index_is_created(self):
        # Regression: a kill while rk.db was being created used to leave an empty rk.db
        # that no command could open or replace. Creation is now atomic (built under
        # another name and renamed into place), so a rerun simply completes.
        small = self.write_jsonl("small.jsonl", [{"_id": f"s{i}", "text": f"small record {i}"}
                                                 for i in range(50)])
        # The window is short, so try a few times; any attempt that breaks the index fails.
        for attempt in range(3):
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

    def committed(self):
        """Documents committed so far, as a concurrent reader sees them."""
        db = os.path.join(self.index, "rk.db")
        try:
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
            try:
                return conn.execute("SELECT count(*) FROM documents").fetchone()[0]
            finally:
                conn.close()
        except sqlite3.Error:
            return 0

    def test_kill_9_and_resume(self):
        # Created beforehand: a kill during creation is test_kill_9_while_the_index_is_created.
        self.init()
        rnd = random.Random(SEED + 1)
        counts = [0]
        for kill in range(KILLS):
            # Where to kill is chosen by progress, not by time, so that it falls inside the
            # run whatever the speed of the build: the first as soon as the writer holds the
            # lock, the others once a random number of further documents is committed, plus
            # a short random delay to land inside a transaction.
            remaining = N_RECORDS - counts[-1]
            target = counts[-1] + (0 if kill == 0 else rnd.randint(1, max(1, remaining // 3)))
            delay = 0.0 if kill == 0 else rnd.uniform(0.0, 0.05)
            p = self.start_ingest()
            try:
                self.wait_for_writer(p)
                while p.poll() is None and self.committed() < target:
                    time.sleep(0.01)
                time.sleep(delay)
                if p.poll() is None:
                    p.send_signal(signal.SIGKILL)
            finally:
                _, err = p.communicate(timeout=TIMEOUT)
            if p.returncode != -signal.SIGKILL:
                # It finished before the signal: then it must have succeeded.
                self.assertEqual(p.returncode, 0, err.decode())
            n = self.check_index(rnd)
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
        self.assertEqual(self.check_index(rnd, sample=40), N_RECORDS)
        # And then there is nothing left to do.
        s = self.ingest_json(self.corpus)
        self.assertEqual((s["added"], s["updated"], s["unchanged"], s["failed"]),
                         (0, 0, N_RECORDS, 0))


if __name__ == "__main__":
    unittest.main()
