"""What a search costs does not grow with how few chunks pass its filters or the similarity
floor: on 50,000 documents, a filter that leaves one of them and a query that matches
nothing. Costs are read from `rk query --explain --format json` ("stats"), never from a clock."""

import json

from rkcli import RkTestCase

N = 50000
WORDS = ["garden", "tomato", "compost", "harvest", "seedling", "trellis", "mulch", "orchard",
         "pruning", "greenhouse", "irrigation", "pollen"]


class Bounds(RkTestCase):
    def setUp(self):
        super().setUp()
        lines = []
        for i in range(N):
            words = " ".join(WORDS[(i * 7 + j) % len(WORDS)] for j in range(5))
            lines.append(json.dumps({"_id": f"d{i}", "title": f"Entry {i}",
                                     "text": f"note {i}: {words}", "lang": "en"}))
        # One document of 50,000 in another language, and in another collection.
        lines[31337] = json.dumps({"_id": "rare", "title": "Entrada",
                                   "text": "una nota sobre el huerto y los tomates",
                                   "lang": "es"})
        self.write("corpus.jsonl", "\n".join(lines) + "\n")
        self.ok("-q", "ingest", self.path("corpus.jsonl"))

    def search(self, *args, expect=(0, 1)):
        r = self.rk("query", "--format", "json", "--explain", *args)
        self.assertIn(r.code, expect, r)
        out = r.json()
        return [h["id"] for h in out["results"]], out["stats"]

    def test_costs_stay_bounded(self):
        # One test, so that the 50,000 documents are ingested once.
        self.a_filter_that_leaves_one_document()
        self.a_filter_the_database_cannot_apply()
        self.a_query_that_matches_nothing()

    def a_filter_that_leaves_one_document(self):
        for mode in ("bm25", "vector", "hybrid"):
            with self.subTest(mode=mode):
                # Matching nothing: no result, and next to no work.
                ids, stats = self.search("--mode", mode, "--where", "lang=es", "zyzzyva qwxv",
                                         expect=(1,))
                self.assertEqual(ids, [])
                self.assertLessEqual(stats["bm25_rounds"], 1)
                self.assertEqual(stats["graph_searches"], 0)  # one chunk: compared directly
                self.assertLessEqual(stats["codes_scored"], 1)
                # Matching it: found, at the same cost.
                ids, stats = self.search("--mode", mode, "--where", "lang=es", "tomates huerto")
                self.assertEqual(ids, ["rare"])
                self.assertLessEqual(stats["bm25_rounds"], 4)
                self.assertLessEqual(stats["codes_scored"], 1)

    def a_filter_the_database_cannot_apply(self):
        # A path glob is checked chunk by chunk: the graph is searched twice at most, whatever
        # it leaves, and the search stops there.
        for mode in ("vector", "hybrid"):
            with self.subTest(mode=mode):
                ids, stats = self.search("--mode", mode, "--path", "rar?", "tomates huerto")
                self.assertLessEqual(stats["graph_searches"], 2)
                self.assertLess(stats["codes_scored"], 2 * N)
                self.assertLessEqual(len(ids), 1)
        ids, stats = self.search("--mode", "bm25", "--path", "rar?", "tomates huerto")
        self.assertEqual(ids, ["rare"])
        self.assertLessEqual(stats["bm25_rounds"], 4)

    def a_query_that_matches_nothing(self):
        for mode in ("bm25", "vector", "hybrid"):
            with self.subTest(mode=mode):
                ids, stats = self.search("--mode", mode, "zyzzyva qwxv", expect=(1,))
                self.assertEqual(ids, [])
                self.assertLessEqual(stats["bm25_rounds"], 1)
                # Under the similarity floor from the first search: nothing asks again.
                self.assertLessEqual(stats["graph_searches"], 1)
                self.assertLess(stats["codes_scored"], N)
