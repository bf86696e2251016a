"""Exact rankings on small hand-made corpora, built so that any sound BM25 agrees on them."""

import os
import unittest

from rkcli import RkTestCase


def ranking(case, query, *args):
    # BM25's ranking: these cases are about the lexical signal, not the vectors.
    r = case.rk("query", "--mode", "bm25", "--format", "trec", "-k", "100", *args, "--", query)
    case.assertIn(r.code, (0, 1), r)
    return [line.split()[2] for line in r.out.splitlines()]


class Rankings(RkTestCase):
    def ingest(self, docs):
        self.ok("-q", "ingest", self.write_jsonl("c.jsonl", docs))

    def test_term_frequency(self):
        filler = "lorem ipsum dolor sit amet consectetur"
        self.ingest([{"_id": f"tf{n}", "text": " ".join(["kestrel"] * n + [filler])}
                     for n in (1, 3, 2)] + [{"_id": "none", "text": filler}])
        self.assertEqual(ranking(self, "kestrel"), ["tf3", "tf2", "tf1"])

    # A term in most documents still counts: FTS5's bm25() clamps the IDF of a term in more
    # than half the rows to almost 0, so "apple" would add nothing and "rare" (inserted first)
    # would tie with "both". rk's Lucene-style IDF keeps it positive.
    def test_more_query_terms_matched_win(self):
        common = [{"_id": f"c{i}", "text": f"apple filler{i} words here"} for i in range(8)]
        self.ingest(common + [{"_id": "rare", "text": "quince only here now"},
                              {"_id": "both", "text": "apple and quince together"}])
        self.assertEqual(ranking(self, "apple quince")[:2], ["both", "rare"])

    def test_rarer_terms_weigh_more(self):
        docs = [{"_id": f"c{i}", "text": f"apple filler{i} words here"} for i in range(3)]
        self.ingest(docs + [{"_id": "rare", "text": "quince filler words here"}] +
                    [{"_id": f"x{i}", "text": f"unrelated text number {i}"} for i in range(6)])
        self.assertEqual(ranking(self, "apple quince")[0], "rare")

    def test_shorter_documents_win_at_equal_frequency(self):
        self.ingest([{"_id": "long", "text": "heron " + "padding words " * 40},
                     {"_id": "short", "text": "heron in brief"},
                     {"_id": "other", "text": "nothing relevant at all"}])
        self.assertEqual(ranking(self, "heron"), ["short", "long"])

    def test_title_outweighs_body(self):
        self.ingest([{"_id": "body", "title": "Notes", "text": "the osprey was seen"},
                     {"_id": "title", "title": "Osprey", "text": "the bird was seen"},
                     {"_id": "none", "title": "Gulls", "text": "gulls were seen"}])
        self.assertEqual(ranking(self, "osprey"), ["title", "body"])

    def test_phrase_prefix_and_exclusion(self):
        self.ingest([{"_id": "p1", "text": "the grey heron stood still"},
                     {"_id": "p2", "text": "grey skies and a heron"},
                     {"_id": "p3", "text": "herons and egrets"},
                     {"_id": "p4", "text": "an egret alone"}])
        self.assertEqual(ranking(self, '"grey heron"'), ["p1"])
        self.assertEqual(sorted(ranking(self, "heron*")), ["p1", "p2", "p3"])
        self.assertEqual(sorted(ranking(self, "heron -grey")), ["p3"])

    def test_stemming(self):
        self.ingest([{"_id": "s1", "text": "the runner was running"},
                     {"_id": "s2", "text": "a quiet walk"}])
        self.assertEqual(ranking(self, "runs"), ["s1"])

    def test_a_repeated_query_word_counts_once(self):
        # osprey is rarer than kestrel, so it wins once each word counts once; were the
        # repeats counted, three times kestrel's weight would put k1 first.
        self.ingest([{"_id": "k1", "text": "kestrel seen today"},
                     {"_id": "k2", "text": "kestrel seen again"},
                     {"_id": "o1", "text": "osprey seen today"}] +
                    [{"_id": f"x{i}", "text": f"unrelated note {i}"} for i in range(8)])
        self.assertEqual(ranking(self, "kestrel kestrel kestrel osprey")[0], "o1")
        once = self.ok("query", "--mode", "bm25", "--format", "trec", "kestrel osprey").out
        for query in ("kestrel kestrel osprey", "osprey kestrel osprey kestrel",
                      '"kestrel" kestrel osprey', "Kestrel KESTREL osprey"):
            with self.subTest(query=query):
                self.assertEqual(
                    self.ok("query", "--mode", "bm25", "--format", "trec", query).out, once)

    def test_default_stemmer_is_porter2(self):
        # Porter cuts "generously" and "general" to the same stem; Porter2 (snowball:english,
        # the default) keeps them apart and still joins "generously" with "generous".
        docs = [{"_id": "g1", "text": "she gave generously to the fund"},
                {"_id": "g2", "text": "a general meeting of members"},
                {"_id": "g3", "text": "nothing else here"}]
        self.ingest(docs)
        self.assertIn("tokenizer snowball:english", self.ok("stats").out)
        self.assertEqual(ranking(self, "general"), ["g2"])
        self.assertEqual(ranking(self, "generous"), ["g1"])
        porter = self.path("porter-index")
        self.ok("init", "--tokenizer", "porter", index=porter)
        self.ok("-q", "ingest", self.write_jsonl("g.jsonl", docs), index=porter)
        r = self.rk("query", "--mode", "bm25", "--format", "trec", "general", index=porter)
        self.assertEqual([line.split()[2] for line in r.out.splitlines()], ["g2", "g1"])

    def test_documents_group_their_chunks(self):
        self.ok("init", "--chunk-size", "16", "--chunk-overlap", "2")
        long_text = " ".join(["plover"] + [f"w{i}" for i in range(60)] + ["plover"])
        self.ingest([{"_id": "long", "text": long_text},
                     {"_id": "one", "text": "a plover"}])
        docs = ranking(self, "plover")
        self.assertEqual(sorted(docs), ["long", "one"])
        chunks = self.rk("query", "--chunks", "--format", "jsonl", "plover").jsonl()
        self.assertEqual(sorted(h["id"] for h in chunks), ["long", "long", "one"])
        # As a TREC run, each document is named once, at the place of its best chunk (the
        # first of its chunks in the ranking), ranks counted 1, 2, ...: rk eval accepts it and
        # scores it against judgements of documents.
        run = self.rk("query", "--chunks", "--format", "trec", "plover").out
        lines = [line.split() for line in run.splitlines()]
        best = list(dict.fromkeys(h["id"] for h in chunks))
        self.assertEqual([f[2] for f in lines], best)
        self.assertEqual([f[3] for f in lines], ["1", "2"])
        first = {h["id"]: h["score"] for h in reversed(chunks)}
        self.assertEqual([f[4] for f in lines], [f"{first[d]:.6f}" for d in best])
        qrels = self.write("docs.tsv", "1\tlong\t1\n1\tone\t1\n")
        r = self.ok("eval", "--qrels", qrels, "--run", self.write("chunks.trec", run),
                    "--metrics", "recall@10", "--format", "json", index=None)
        self.assertAlmostEqual(r.json()["metrics"]["Recall@10"], 1.0)


class Bm25Parameters(RkTestCase):
    """--bm25 changes the ranking the way BM25's parameters should, and refuses nonsense."""

    def setUp(self):
        super().setUp()
        self.ok("-q", "ingest", self.write_jsonl("c.jsonl", [
            {"_id": "long", "text": "heron heron heron " + "padding words " * 50},
            {"_id": "short", "text": "heron in brief"},
            {"_id": "titled", "title": "Egret", "text": "an egret in the marsh, one egret"},
            {"_id": "bodied", "title": "Marsh", "text": "egret egret egret egret egret"}]))

    def test_length_normalisation(self):
        # b=0 ignores length, so three matches beat one; b=1 normalises fully.
        self.assertEqual(ranking(self, "heron", "--bm25", "b=0"), ["long", "short"])
        self.assertEqual(ranking(self, "heron", "--bm25", "b=1"), ["short", "long"])

    def test_field_weights(self):
        self.assertEqual(ranking(self, "egret", "--bm25", "title=0")[0], "bodied")
        self.assertEqual(ranking(self, "egret", "--bm25", "title=20")[0], "titled")

    def test_from_the_configuration_file(self):
        self.write(os.path.join(self.index, "config.toml"), '[query]\nbm25 = "b=1"\n')
        self.assertEqual(ranking(self, "heron"), ["short", "long"])
        self.assertEqual(ranking(self, "heron", "--bm25", "b=0"), ["long", "short"])

    def test_bad_parameters(self):
        for spec in ("k1", "k1=", "k1=abc", "b=1.5", "b=-0.1", "k2=1", "title=nan",
                     "k1=1e999"):
            with self.subTest(spec=spec):
                r = self.rk("query", "--bm25", spec, "heron")
                self.assertError(r, 2, mentions=["BM25"])
                self.assertNoStdout(r)
                r = self.rk("bench", "--bm25", spec, self.path("nowhere"))
                self.assertError(r, 2, mentions=["BM25"])

class Rm3Feedback(RkTestCase):
    """--rm3 adds the words of the best results to the query: a document that shares them but
    not the query's own word is found, and ranked below those that hold the word."""

    def setUp(self):
        super().setUp()
        docs = [{"_id": f"hit{i}", "text": f"osprey nests near the estuary with fish {i}"}
                for i in range(3)]
        docs.append({"_id": "related", "text": "nests by the estuary, all about fish"})
        docs += [{"_id": f"other{i}", "text": f"unrelated filler text number {i} of many"}
                 for i in range(40)]
        self.ok("-q", "ingest", self.write_jsonl("c.jsonl", docs))

    def test_expansion_finds_related_documents(self):
        self.assertEqual(sorted(ranking(self, "osprey")), ["hit0", "hit1", "hit2"])
        expanded = ranking(self, "osprey", "--rm3")
        self.assertEqual(sorted(expanded[:3]), ["hit0", "hit1", "hit2"])
        self.assertEqual(expanded[3], "related")
        self.assertNotIn("other0", expanded)
        # The query's own words carry the whole weight: nothing more is found.
        self.assertEqual(sorted(ranking(self, "osprey", "--rm3-params", "original=1")),
                         ["hit0", "hit1", "hit2"])
        # Words in more than max_df of the chunks are not added.
        self.assertNotIn("related", ranking(self, "osprey", "--rm3-params", "max_df=0.01"))

    def test_a_repeated_word_does_not_lift_the_expansion(self):
        # The query's words weigh `original` of the whole, each distinct word once: saying
        # "osprey" three times changes no score.
        def run(query):
            return self.ok("query", "--mode", "bm25", "--rm3", "--format", "trec", "-k", "10",
                           query).out
        self.assertEqual(run("osprey osprey osprey"), run("osprey"))
        self.assertEqual(run('"osprey nests" "Osprey  nests"'), run('"osprey nests"'))

    def test_every_mode_that_runs_bm25(self):
        for mode in ("bm25", "hybrid"):
            r = self.ok("query", "--mode", mode, "--rm3", "--format", "tsv", "osprey")
            self.assertIn("related", r.out)

    def test_bad_parameters(self):
        for spec in ("docs=0", "terms=1.5", "original=2", "max_df=-1", "depth=3", "docs"):
            with self.subTest(spec=spec):
                r = self.rk("query", "--rm3-params", spec, "osprey")
                self.assertError(r, 2, mentions=["RM3"])
                r = self.rk("bench", "--rm3-params", spec, self.path("nowhere"))
                self.assertError(r, 2, mentions=["RM3"])
