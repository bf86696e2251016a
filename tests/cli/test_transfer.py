"""rk export and rk import: a lossless round trip (documents, chunks, vectors, names that are
not UTF-8), the same rankings after it, the --collection filter, vectors kept or computed again
by the importing index's settings, and truncated or invalid exports (the error names the line,
what came before is kept, a rerun goes on)."""

import base64
import hashlib
import json
import os

from rkcli import RkTestCase

QUERIES = ["boundary layer heating", "install the package", "quokka habitat",
           "record about metadata", "odd file name"]
MODES = ["bm25", "vector", "hybrid"]

# A file name with a space, a tab, a newline and bytes that are not UTF-8.
ODD_NAME = b"odd name\twith\nbreak \xff\xfe.md"


class Transfer(RkTestCase):
    # --- helpers -----------------------------------------------------------------------------

    def make_corpus(self, html=True):
        """A mixed corpus in self.index, in three collections. Returns nothing."""
        self.write("docs/guide.md", "# Guide\n\nIntro to the package.\n\n## Install\n\n"
                   "Run the installer; install the package with apt.\n\n## Boundary layers\n\n"
                   + "Boundary layer heating at supersonic speed. " * 60 + "\n")
        self.write("docs/notes.txt", "plain notes\n\nabout the quokka and its habitat\n")
        if html:
            self.write("docs/page.html", "<html><head><title>Page</title></head><body>"
                       "<h1>Top</h1><p>html paragraph on heating</p><h2>Low</h2>"
                       "<p>second part</p></body></html>")
        odd = os.path.join(os.fsencode(self.path("docs")), ODD_NAME)
        with open(odd, "wb") as f:
            f.write(b"# Odd\n\nThis odd file name holds bytes that are not UTF-8.\n")
        self.write_jsonl("records.jsonl", [
            {"_id": "r1", "title": "Record one", "text": "a record about metadata",
             "author": "Ann", "tags": ["x", "y"], "n": 1.5},
            {"_id": "r2", "title": "", "text": "", "empty": None},
            {"_id": "r\u00e9\u00e0 3", "text": "accents and\ttabs\u0001 in a record"},
        ])
        self.ok("ingest", "-r", self.path("docs"), "--collection", "files", "--meta", "k=v")
        self.ok("ingest", self.path("records.jsonl"), "--collection", "records")
        self.ok("ingest", "-", "--collection", "stdin", stdin="remember the quokka\n")

    def export(self, *args, index=True):
        return self.ok("export", *args, index=index).out_bytes

    def records(self, data):
        """An export's lines after the header, as bytes."""
        return data.split(b"\n", 1)[1]

    def header(self, data):
        return json.loads(data.split(b"\n", 1)[0])

    def import_json(self, path, *args, index=True, expect=0, stdin=None):
        r = self.rk("import", "--json", path, *args, index=index, stdin=stdin)
        self.assertEqual(r.code, expect, r)
        return r.json() if expect == 0 else r

    def rankings(self, index, mode, extra=()):
        out = {}
        for q in QUERIES:
            r = self.rk("query", "--mode", mode, "--format", "jsonl", "-k", "20", *extra, q,
                        index=index)
            self.assertIn(r.code, (0, 1), r)
            out[q] = [(h["id"], h["score"], h.get("chunk")) for h in r.jsonl()]
        return out

    def raw_documents(self, index):
        conn = self.db(index)
        conn.text_factory = bytes
        return conn.execute("SELECT ext_id, source, collection, title, meta, hash, body, "
                            "bytes, updated FROM documents ORDER BY id").fetchall()

    def raw_chunks(self, index):
        conn = self.db(index)
        conn.text_factory = bytes
        return conn.execute("SELECT d.ext_id, c.seq, c.heading, c.start, c.end, c.tokens, "
                            "c.lex_len, v.data FROM chunks c JOIN documents d ON d.id = c.doc "
                            "LEFT JOIN vectors v ON v.chunk = c.id ORDER BY c.id").fetchall()

    def many_records(self, n):
        recs = [{"_id": f"doc-{i}", "text": f"number {i} says something about topic {i % 7}"}
                for i in range(n)]
        self.ok("ingest", self.write_jsonl("many.jsonl", recs))

    # --- the round trip ------------------------------------------------------------------------

    def test_round_trip_is_lossless(self):
        self.init("--chunk-size", "64", "--chunk-overlap", "8", "--tokenizer", "unicode")
        self.make_corpus()
        first = self.export("--vectors")
        head = self.header(first)
        self.assertEqual(head["rk_export"], 1)
        self.assertEqual(head["settings"]["chunk_size"], 64)
        self.assertEqual(head["settings"]["tokenizer"], "unicode")
        self.assertTrue(head["chunks"] and head["vectors"])
        self.assertRegex(head["exported"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        lines = first.decode("utf-8").splitlines()
        self.assertEqual(json.loads(lines[-1]), {"rk_export_end": {"documents": 8}})
        # The odd name is kept as base64 of its bytes; everything is valid UTF-8 JSON.
        odd = [json.loads(x) for x in lines if "id_b64" in x]
        self.assertEqual(len(odd), 1)
        self.assertTrue(base64.b64decode(odd[0]["id_b64"]).endswith(ODD_NAME))
        self.assertEqual(odd[0]["id_b64"], odd[0]["source_b64"])
        self.assertNotIn("id", odd[0])
        r1 = next(json.loads(x) for x in lines if '"id":"r1"' in x)
        self.assertEqual(r1["meta"], {"author": "Ann", "tags": ["x", "y"], "n": 1.5})

        copy = self.path("copy")
        r = self.rk("import", "--json", self.write("e1.jsonl", first), index=copy)
        self.assertEqual(r.code, 0, r)
        s = r.json()
        self.assertTrue(s["created"])
        self.assertIn("with the export's settings", r.err)
        self.assertEqual((s["added"], s["updated"], s["unchanged"]), (8, 0, 0), s)
        self.assertEqual(s["chunks_kept"], s["chunks"])
        self.assertEqual((s["vectors_kept"], s["vectors_embedded"]), (s["chunks"], 0), s)
        self.assertEqual(self.stats(index=copy)["settings"], self.stats()["settings"])
        self.ok("index", "verify", index=copy)

        second = self.export("--vectors", index=copy)
        self.assertEqual(self.records(second), self.records(first))
        h1, h2 = self.header(first), self.header(second)
        del h1["exported"], h2["exported"]
        self.assertEqual(h1, h2)
        self.assertEqual(self.raw_documents(copy), self.raw_documents(self.index))
        self.assertEqual(self.raw_chunks(copy), self.raw_chunks(self.index))
        for mode in MODES:
            self.assertEqual(self.rankings(copy, mode), self.rankings(self.index, mode), mode)
        self.assertEqual(self.rankings(copy, "hybrid", ["--chunks"]),
                         self.rankings(self.index, "hybrid", ["--chunks"]))

        # A second import changes nothing.
        again = self.import_json(self.path("e1.jsonl"), index=copy)
        self.assertEqual((again["added"], again["updated"], again["unchanged"]), (0, 0, 8))

    def graph_without_generation(self, index):
        """A digest of vectors.hnsw but the header's vector generation and checksum (offsets
        24-31 and 120-127), which count rk.db's commits rather than describe the graph."""
        with open(os.path.join(index, "vectors.hnsw"), "rb") as f:
            data = f.read()
        self.assertEqual(data[:8], b"rk-hnsw\n")
        return hashlib.sha256(data[:24] + data[32:120] + data[128:]).hexdigest()

    def test_the_graph_is_built_again_node_for_node(self):
        # Three ingests of 700 records each, the graph saved after each one, against one
        # import with two workers preparing the text (the graph goes in on one thread
        # whatever -j says): the same nodes on the same layers with the same links, so the
        # graph search (forced here: the index is small enough to be searched exactly) ranks
        # alike. Layers used to come from a generator restarted by each process, and the
        # last batch of an ingest went in on two threads in whatever order they took it.
        words = ("layer boundary heating flow shock wave wing pressure install package "
                 "quokka habitat record metadata river valley engine turbine blade").split()
        for part in range(3):
            recs = [{"_id": f"p{part}-{i}",
                     "text": " ".join(words[(i * 7 + j * (part + 3)) % len(words)]
                                      for j in range(5 + i % 11))}
                    for i in range(700)]
            self.ok("ingest", self.write_jsonl(f"part{part}.jsonl", recs))
        path = self.write("e.jsonl", self.export("--vectors"))
        copy = self.path("copy")
        s = self.import_json(path, "-j", "2", index=copy)
        self.assertEqual((s["added"], s["vectors_kept"]), (2100, 2100), s)
        self.assertEqual(self.graph_without_generation(copy),
                         self.graph_without_generation(self.index))
        for mode in ("vector", "hybrid"):
            self.assertEqual(self.rankings(copy, mode, ["--vector-search", "hnsw"]),
                             self.rankings(self.index, mode, ["--vector-search", "hnsw"]), mode)

    def test_text_only_export_cuts_again_as_ingest_did(self):
        self.make_corpus(html=False)
        plain = self.export()
        self.assertNotIn(b'"chunks":[', plain)
        self.assertFalse(self.header(plain)["chunks"])
        copy = self.path("copy")
        s = self.import_json(self.write("plain.jsonl", plain), index=copy)
        self.assertEqual((s["chunks_kept"], s["vectors_kept"]), (0, 0), s)
        self.assertEqual(s["vectors_embedded"], s["chunks"])
        # Markdown is cut at its headings again, records at paragraphs: the same chunks.
        self.assertEqual(self.raw_chunks(copy), self.raw_chunks(self.index))
        self.assertEqual(self.records(self.export("--chunks", index=copy)),
                         self.records(self.export("--chunks")))
        for mode in MODES:
            self.assertEqual(self.rankings(copy, mode), self.rankings(self.index, mode), mode)

    def test_collection_filter(self):
        self.make_corpus(html=False)
        data = self.export("--collection", "records", "--chunks")
        self.assertEqual(self.header(data)["collection"], "records")
        docs = [json.loads(x) for x in data.decode().splitlines()[1:-1]]
        self.assertEqual(sorted(d["id"] for d in docs), ["r1", "r2", "r\u00e9\u00e0 3"])
        self.assertTrue(all(d["collection"] == "records" for d in docs))
        self.assertEqual(json.loads(data.decode().splitlines()[-1]),
                         {"rk_export_end": {"documents": 3}})
        r = self.rk("export", "--collection", "nothing-here")
        self.assertEqual(r.code, 0, r)
        self.assertIn("no documents in collection 'nothing-here'", r.err)
        self.assertEqual(len(r.out.splitlines()), 2)

    # --- another index's settings ------------------------------------------------------------

    def test_vectors_are_kept_or_computed_by_the_importing_index(self):
        self.make_corpus()
        path = self.write("e.jsonl", self.export("--vectors"))
        chunks = self.stats()["chunks"]

        lexical = self.path("lexical")
        self.init("--embedder", "none", index=lexical)
        s = self.import_json(path, index=lexical)
        self.assertEqual((s["chunks_kept"], s["vectors_kept"], s["vectors_embedded"]),
                         (chunks, 0, 0), s)
        self.assertEqual(self.stats(index=lexical)["vectors"]["count"], 0)
        # An index without vectors has none to export, and its header says so.
        lex = self.export("--vectors", index=lexical)
        self.assertEqual((self.header(lex)["chunks"], self.header(lex)["vectors"]), (True, False))
        self.assertNotIn(b'"vector":', lex)
        self.ok("index", "verify", index=lexical)
        self.assertEqual(self.rankings(lexical, "bm25"), self.rankings(self.index, "bm25"))

        small = self.path("small")
        self.init("--embedder", "builtin:1024", index=small)
        r = self.rk("import", "--json", path, index=small)
        self.assertEqual(r.code, 0, r)
        s = r.json()
        self.assertEqual((s["chunks_kept"], s["vectors_kept"], s["vectors_embedded"]),
                         (chunks, 0, chunks), s)
        self.assertIn("vectors are computed again", r.err)
        self.assertEqual(self.stats(index=small)["vectors"]["dimension"], 1024)
        self.ok("index", "verify", index=small)

        other = self.path("other")
        self.init("--chunk-size", "128", "--chunk-overlap", "16", index=other)
        r = self.rk("import", "--json", path, index=other)
        self.assertEqual(r.code, 0, r)
        s = r.json()
        self.assertEqual((s["chunks_kept"], s["vectors_kept"]), (0, 0), s)
        self.assertEqual(s["vectors_embedded"], s["chunks"])
        self.assertIn("documents are cut again", r.err)
        self.assertEqual(self.stats(index=other)["settings"]["chunk_size"], 128)
        self.ok("index", "verify", index=other)

    def test_an_edited_record_is_cut_again(self):
        self.many_records(3)
        lines = self.export("--vectors").decode().splitlines()
        rec = json.loads(lines[2])
        rec["text"] = "an edited text about otters"
        lines[2] = json.dumps(rec)
        copy = self.path("copy")
        s = self.import_json(self.write("e.jsonl", "\n".join(lines) + "\n"), index=copy)
        self.assertEqual((s["added"], s["chunks_kept"], s["vectors_kept"]), (3, 2, 2), s)
        self.assertEqual(s["vectors_embedded"], 1)
        self.ok("index", "verify", index=copy)
        self.assertEqual(self.rankings(copy, "bm25")["quokka habitat"], [])
        r = self.ok("query", "--mode", "bm25", "--format", "jsonl", "otters", index=copy)
        self.assertEqual([h["id"] for h in r.jsonl()], [rec["id"]])

    # --- bad and cut short exports -----------------------------------------------------------

    def test_truncated_export_keeps_what_came_before_and_resumes(self):
        self.many_records(600)
        data = self.export("--vectors")
        lines = data.split(b"\n")
        # Cut inside line 400 (the header is line 1): 398 documents come before it.
        cut = sum(len(x) + 1 for x in lines[:399]) + 30
        path = self.write("cut.jsonl", data[:cut])
        copy = self.path("copy")
        r = self.rk("import", path, index=copy, env={"RK_TEST_COMMIT_BYTES": "20000"})
        errors = self.assertError(r, mentions=["cut.jsonl:400", "truncated",
                                              f"byte {cut - 30}"])
        self.assertEqual(len(errors), 1)
        self.assertEqual(self.stats(index=copy)["documents"], 398)
        self.ok("index", "verify", index=copy)
        # Cut at a line's end: the missing last line tells.
        at_line = sum(len(x) + 1 for x in lines[:500])
        r = self.rk("import", self.write("cut2.jsonl", data[:at_line]), index=copy)
        self.assertError(r, mentions=["cut2.jsonl:500", "without the export's last line"])
        self.assertEqual(self.stats(index=copy)["documents"], 499)
        s = self.import_json(self.write("whole.jsonl", data), index=copy)
        self.assertEqual((s["added"], s["unchanged"], s["vectors_embedded"]), (101, 499, 0), s)
        self.assertEqual(self.records(self.export("--vectors", index=copy)), self.records(data))

    def test_invalid_line_stops_the_import_there(self):
        self.many_records(20)
        lines = self.export().split(b"\n")
        lines[6] = b'{"id":"broken", "text": }'
        path = self.write("bad.jsonl", b"\n".join(lines))
        copy = self.path("copy")
        r = self.rk("import", path, index=copy)
        start = sum(len(x) + 1 for x in lines[:6])
        self.assertError(r, mentions=["bad.jsonl:7", "invalid JSON", f"byte {start}"])
        self.assertEqual(self.ids(index=copy), [f"doc-{i}" for i in range(5)])
        self.assertNoStdout(r)

        lines[6] = b'{"id":"x","text":"t","colour":"red"}'
        r = self.rk("import", self.write("bad2.jsonl", b"\n".join(lines)), index=copy)
        self.assertError(r, mentions=["bad2.jsonl:7", "unknown field 'colour'"])

        extra = self.export().rstrip(b"\n") + b'\n{"id":"late","text":"t"}\n'
        r = self.rk("import", self.write("late.jsonl", extra), index=copy)
        self.assertError(r, mentions=["late.jsonl:23", "after the export's last line"])
        self.assertNotIn("late", self.ids(index=copy))

        missing = self.export().split(b"\n")
        del missing[3]
        r = self.rk("import", self.write("gap.jsonl", b"\n".join(missing)), index=copy)
        self.assertError(r, mentions=["gap.jsonl:21", "counts 20 documents, but 19"])

    def test_nothing_after_the_last_line_is_written(self):
        # 255 records and the last line fill the workers' first batch of 256 lines exactly,
        # so the stray line comes in the next: the writer, not the worker, must refuse it.
        self.many_records(255)
        data = self.export() + b'{"id":"doc-3","text":"replaced after the end"}\n'
        copy = self.path("copy")
        r = self.rk("import", self.write("stray.jsonl", data), index=copy)
        self.assertError(r, mentions=["stray.jsonl:258", "after the export's last line"])
        self.assertEqual(self.stats(index=copy)["documents"], 255)
        self.assertEqual(self.ok("get", "doc-3", index=copy).out,
                         "number 3 says something about topic 3\n")

    def test_headers_that_are_not_ours(self):
        newer = self.write("newer.jsonl", '{"rk_export":2,"settings":{}}\n{"id":"a"}\n')
        r = self.rk("import", newer)
        self.assertError(r, mentions=["newer.jsonl:1", "format 2", "upgrade rk"])
        self.assertFalse(os.path.exists(self.index), "an index was made for nothing")
        r = self.rk("import", self.write_jsonl("recs.jsonl", [{"_id": "1", "text": "x"}]))
        self.assertError(r, mentions=["recs.jsonl:1", "not an rk export"])
        r = self.rk("import", "-", stdin="")
        self.assertError(r, mentions=["<stdin>:1", "empty input"])
        r = self.rk("import", self.path("absent.jsonl"))
        self.assertError(r, mentions=["absent.jsonl", "cannot read"])
        bad = {"rk_export": 1, "settings": {"embedder": "martian", "tokenizer": "porter",
                                            "chunk_size": 512, "chunk_overlap": 64}}
        r = self.rk("import", self.write("m.jsonl", json.dumps(bad) + "\n"))
        self.assertError(r, mentions=["m.jsonl:1", "martian"])

    # --- standard input and output files -------------------------------------------------------

    def test_stdin_and_output_file(self):
        self.make_corpus(html=False)
        out = self.path("out", "e.jsonl")
        os.makedirs(os.path.dirname(out))
        self.write(out, "old content\n")
        r = self.ok("export", "--vectors", "-o", out)
        self.assertNoStdout(r)
        self.assertIn("exported 7 documents", r.err)
        self.assertEqual(os.listdir(os.path.dirname(out)), ["e.jsonl"])
        with open(out, "rb") as f:
            data = f.read()
        self.assertEqual(self.records(data), self.records(self.export("--vectors")))
        copy = self.path("copy")
        s = self.import_json("-", index=copy, stdin=data)
        self.assertEqual((s["added"], s["vectors_embedded"]), (7, 0), s)
        self.assertEqual(self.records(self.export("--vectors", index=copy)), self.records(data))

        r = self.rk("export", "-o", self.path("no", "such", "dir", "e.jsonl"))
        self.assertError(r, mentions=["e.jsonl"])
        r = self.rk("-q", "export", "--vectors", "-o", out)
        self.assertEqual(r.err, "")
