"""The shared BEIR-layout datasets (skipped when absent)."""

import json
import os
import unittest

from rkcli import RkTestCase, datasets_dir


class Cranfield(RkTestCase):

    def setUp(self):
        super().setUp()
        self.dir = os.path.join(datasets_dir(), "cranfield")
        self.corpus = os.path.join(self.dir, "corpus.jsonl")
        if not os.path.isfile(self.corpus):
            self.skipTest(f"no dataset at {self.dir} (set RK_DATASETS)")
        with open(self.corpus, encoding="utf-8") as f:
            self.records = [json.loads(line) for line in f if line.strip()]

    def test_ingest_corpus(self):
        n = len(self.records)
        s = self.ingest_json(self.corpus, "--collection", "cranfield")
        self.assertEqual((s["added"], s["failed"]), (n, 0))
        st = self.stats()
        self.assertEqual(st["documents"], n)
        self.assertEqual(st["collections"], {"cranfield": n})
        first = next(r for r in self.records if str(r["_id"]) == "1")
        self.assertEqual(self.ok("get", "1").out.rstrip("\n"), first["text"].rstrip("\n"))
        doc = self.get_json("1")
        self.assertEqual(doc["title"], first["title"])
        for rec in self.records[::97]:
            self.assertEqual(self.get_json(str(rec["_id"]))["text"], rec["text"])
        self.ok("index", "verify")
        s = self.ingest_json(self.corpus, "--collection", "cranfield")
        self.assertEqual((s["added"], s["updated"], s["unchanged"], s["failed"]), (0, 0, n, 0))


if __name__ == "__main__":
    unittest.main()
