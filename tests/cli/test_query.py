"""rk query: formats parsed back, filters, exclusions, batches, exit codes, hostile input."""

import json
import os

from rkcli import RkTestCase

DOCS = [
    {"_id": "a", "title": "Retry with backoff", "text": "exponential backoff for retries",
     "team": "infra", "year": 2020},
    {"_id": "b", "title": "Backoff drafts", "text": "a draft about backoff and jitter",
     "team": "web", "year": 2021},
    {"_id": "c", "title": "Caching", "text": "keep answers close to the caller", "team": "infra",
     "year": 2021},
]


class Query(RkTestCase):
    def setUp(self):
        super().setUp()
        self.ok("-q", "ingest", "--collection", "notes", self.write_jsonl("c.jsonl", DOCS))
        self.write("files/docs/x.md", "# X\n\nbackoff in a file\n")
        self.ok("-q", "ingest", "-r", self.path("files"), "--collection", "files")

    def q(self, *args, expect=0, **kw):
        r = self.rk("query", *args, **kw)
        self.assertEqual(r.code, expect, r)
        return r

    def test_json_and_jsonl(self):
        r = self.q("backoff", "--format", "json")
        doc = r.json()
        self.assertEqual(doc["query"], "backoff")
        ids = [h["id"] for h in doc["results"]]
        self.assertEqual(sorted(ids[:2]), ["a", "b"])
        for h in doc["results"]:
            for b, e in h["highlights"]:
                self.assertEqual(h["snippet"].encode()[b:e].decode().lower()[:7], "backoff")
        lines = self.q("backoff", "--format", "jsonl").jsonl()
        self.assertEqual([x["id"] for x in lines], ids)
        self.assertEqual([x["rank"] for x in lines], list(range(1, len(ids) + 1)))

    def test_trec_and_tsv(self):
        rows = [line.split() for line in self.q("backoff", "--format", "trec").out.splitlines()]
        self.assertTrue(all(len(r) == 6 and r[1] == "Q0" and r[5] == "rk" for r in rows))
        scores = [float(r[4]) for r in rows]
        self.assertEqual(scores, sorted(scores, reverse=True))
        tsv = [line.split("\t") for line in self.q("backoff", "--format", "tsv").out.splitlines()]
        self.assertTrue(all(len(r) == 5 for r in tsv))

    def test_markdown(self):
        out = self.q("backoff", "--format", "markdown").out
        self.assertTrue(out.startswith("# backoff\n\n1. **"), out)
        self.assertIn("**backoff**", out.lower())
        self.assertIn("`a`", out)

    def test_nothing_found_exits_1(self):
        r = self.q("zyzzyva", expect=1)
        self.assertEqual(r.out, "")

    def test_filters(self):
        ids = lambda r: [h["id"] for h in r.json()["results"]]
        self.assertEqual(ids(self.q("backoff", "--where", "team=web", "--format", "json")), ["b"])
        self.assertEqual(ids(self.q("backoff", "--where", "year=2020", "--format", "json")),
                         ["a"])
        self.assertEqual(len(ids(self.q("backoff", "--collection", "files", "--format",
                                        "json"))), 1)
        r = self.q("backoff", "--path", "files/docs/*", "--format", "json", cwd=self.tmp)
        self.assertEqual(len(ids(r)), 1)
        self.assertTrue(ids(r)[0].endswith("/files/docs/x.md"))
        # Repeated "**/" once took time exponential in the repetitions.
        r = self.q("backoff", "--path", "**/" * 300 + "x.md", "--format", "json", cwd=self.tmp)
        self.assertEqual(len(ids(r)), 1)
        self.q("backoff", "--path", "**/" * 300 + "nothing", expect=1)

    def test_long_and_repeated_queries_stay_cheap_and_highlighted(self):
        # A word repeated hundreds of times once made snippets quadratic (seconds with
        # --format json); it is one term to highlight.
        r = self.q(" ".join(["backoff"] * 512), "--format", "json")  # 4,095 bytes
        hit = r.json()["results"][0]
        self.assertTrue(hit["highlights"], hit)
        # Past the first 64 distinct words, words are searched but not highlighted.
        filler = " ".join(f"zz{i}" for i in range(100))
        self.assertTrue(self.q(f"{filler} backoff", "--format", "json").json()["results"])
        hit = self.q(f"backoff {filler}", "--format", "json").json()["results"][0]
        self.assertTrue(hit["highlights"], hit)

    def test_queries_past_4096_bytes_are_refused(self):
        # The servers' limit, in the CLI too: 4,096 bytes pass, one more is an error.
        self.q(("backoff " * 512)[:4096], "--format", "tsv")
        r = self.q("backoff " * 1000, expect=2)
        self.assertError(r, mentions=["longer than 4096 bytes"])
        self.assertNoStdout(r)
        # In a batch, every query is checked before any runs; the error names the query.
        batch = self.write("batch.txt", "backoff\n" + "retry " * 700 + "\n")
        r = self.q("--batch", batch, "--format", "trec", expect=2)
        self.assertError(r, mentions=["batch.txt: query 2", "longer than 4096 bytes"])
        self.assertNoStdout(r)

    def test_ef_shows_its_real_default(self):
        # It once showed a default of 0, which it refuses.
        help_text = self.rk("query", "--help").out
        self.assertRegex(help_text, r"--ef N[^\n]*=128\b")
        self.assertError(self.q("backoff", "--ef", "0", expect=2), mentions=["--ef"])
        self.q("backoff", "--ef", "128")

    def test_exclusion_removes_the_document(self):
        r = self.q("backoff -draft", "--format", "json")
        self.assertNotIn("b", [h["id"] for h in r.json()["results"]])

    def test_batch(self):
        batch = self.write("q.jsonl", json.dumps({"_id": "q1", "text": "backoff"}) + "\n" +
                           json.dumps({"_id": 7, "text": "caching"}) + "\n")
        rows = [line.split() for line in self.q("--batch", batch, "--format", "trec").out.splitlines()]
        self.assertEqual({r[0] for r in rows}, {"q1", "7"})
        plain = self.write("q.txt", "backoff\n\ncaching\n")
        rows = [line.split() for line in self.q("--batch", plain, "--format", "trec").out.splitlines()]
        self.assertEqual({r[0] for r in rows}, {"1", "3"})
        r = self.q("--batch", "-", "--format", "json", stdin="backoff\n")
        self.assertEqual(r.json()[0]["qid"], "1")

    def test_hostile_queries_never_error(self):
        hostile = ['"unbalanced', "(((", "NEAR(a b)", "a^b", "title:backoff", "col:x OR",
                   "AND OR NOT", "*", "-", "--", '""', "back*", "-backoff", "'; DROP TABLE x;",
                   "x" * 4096, "backoff \udcff".encode("utf-8", "surrogateescape"),
                   b"\xff\xfe backoff", "\x00"]
        for text in hostile:
            with self.subTest(text=text[:40] if isinstance(text, str) else text[:40]):
                arg = text if isinstance(text, str) else text.decode("utf-8", "surrogateescape")
                if "\x00" in arg:
                    continue  # not expressible as an argument
                r = self.rk("query", "--", arg)
                self.assertIn(r.code, (0, 1), r)
                self.assertNotIn("error", r.err)


class Scripts(RkTestCase):
    """Words are found however their script writes them: inside unspaced Chinese and
    Japanese sentences, in either Unicode normal form, in either case."""

    def setUp(self):
        super().setUp()
        docs = {
            "tokyo.txt": "東京は日本の首都です。",        # Tokyo is Japan's capital.
            "osaka.txt": "大阪は食べ物で有名です。",      # Osaka is famous for food.
            "beijing.txt": "北京是中国的首都。",          # Beijing is China's capital.
            "seoul.txt": "서울은 한국의 수도입니다.",
            "nfc.txt": "Caf\u00e9 cr\u00e8me and gro\u00dfe \u00dcbung.",
            "nfd.txt": "Cafe\u0301 cre\u0300me notes.",
        }
        self.paths = {name: self.write("docs/" + name, text) for name, text in docs.items()}
        self.ingest_json("-r", self.path("docs"))

    def hits(self, query, mode="bm25"):
        r = self.rk("query", "--mode", mode, "--format", "json", "-k", "10", query)
        self.assertIn(r.code, (0, 1), r)
        return [(os.path.basename(h["id"]), round(h["score"], 9))
                for h in (r.json()["results"] if r.code == 0 else [])]

    def test_a_word_inside_an_unspaced_sentence_is_found(self):
        self.assertEqual([h[0] for h in self.hits("日本")], ["tokyo.txt"])
        self.assertEqual(sorted(h[0] for h in self.hits("首都")), ["beijing.txt", "tokyo.txt"])
        self.assertEqual([h[0] for h in self.hits("食べ物")], ["osaka.txt"])
        self.assertEqual([h[0] for h in self.hits("수도")], ["seoul.txt"])
        # One character is a word too.
        self.assertEqual(sorted(h[0] for h in self.hits("京")), ["beijing.txt", "tokyo.txt"])

    def test_a_partly_absent_query_returns_the_partial_match(self):
        self.assertEqual([h[0] for h in self.hits("東京 ロンドン")], ["tokyo.txt"])

    def test_quoted_runs_and_camel_case_phrases_match_in_place(self):
        # A quoted run asks for its pairs next to each other, as the document holds them.
        self.assertEqual([h[0] for h in self.hits('"日本の首都"')], ["tokyo.txt"])
        self.assertEqual(self.hits('"首都日本"'), [])
        self.assertEqual([h[0] for h in self.hits("首都 -東京")], ["beijing.txt"])
        self.write("docs/code.txt", "then call parseConfig twice\n")
        self.ingest_json(self.path("docs/code.txt"))
        self.assertEqual([h[0] for h in self.hits('"call parseConfig twice"')], ["code.txt"])
        self.assertEqual([h[0] for h in self.hits('"call parse config"')], ["code.txt"])

    def test_normal_forms_and_case_rank_identically(self):
        nfc, nfd = "caf\u00e9 cr\u00e8me", "cafe\u0301 cre\u0300me"
        for mode in ("bm25", "vector", "hybrid"):
            expected = self.hits(nfc, mode)
            self.assertIn("nfc.txt", [h[0] for h in expected[:2]], mode)
            self.assertIn("nfd.txt", [h[0] for h in expected[:2]], mode)
            for spelling in (nfd, nfc.upper(), "CAF\u00c9 CR\u00c8ME"):
                self.assertEqual(self.hits(spelling, mode), expected, (spelling, mode))
        big = self.hits("gro\u00dfe")
        self.assertEqual([h[0] for h in big], ["nfc.txt"])
        self.assertEqual(self.hits("GROSSE"), big)
        self.assertEqual(self.hits("\u00fcbung"), self.hits("\u00dcBUNG"))


class PrefixesOverStems(RkTestCase):
    """A prefix finds the words that start with it, also when the index holds their stems."""

    def test_a_prefix_past_the_stem_finds_the_word(self):
        for name, text in [("a", "connections between towns"), ("b", "universities and colleges"),
                           ("c", "running fast"), ("d", "alternative plans"),
                           ("e", "alter the plan"), ("g", "walked home")]:
            self.write(f"p/{name}.txt", text + "\n")
        self.ingest_json("-r", self.path("p"))

        def found(q):
            r = self.rk("query", "--mode", "bm25", "--format", "json", q)
            self.assertIn(r.code, (0, 1), r)
            return sorted(os.path.basename(h["id"])[0] for h in
                          (r.json()["results"] if r.code == 0 else []))
        self.assertEqual(found("connecti*"), ["a"])
        self.assertEqual(found("Connecti*"), ["a"])
        self.assertEqual(found("universit*"), ["b"])
        self.assertEqual(found("runn*"), ["c"])
        self.assertEqual(found("alternat*"), ["d"])  # not "alter", a stem it never makes
        self.assertEqual(found("walk*"), ["g"])
        self.assertEqual(found("alter*"), ["d", "e"])
        self.assertEqual(found("zzz*"), [])
