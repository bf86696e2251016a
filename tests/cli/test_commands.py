"""rk get, rk ls, rk rm, rk stats, rk index verify."""

import json
import os
import signal
import subprocess
import unittest

from rkcli import RkTestCase


class Commands(RkTestCase):

    def setUp(self):
        super().setUp()
        self.a = self.write("d/a.txt", "alpha " * 60 + "\n")
        self.b = self.write("d/sub/b.md", "# Bee\n\nbee text\n\n## More\n\nmore bee text\n")
        self.c = self.write("d/sub/c.txt", "sea text\n")
        self.recs = [{"_id": "r1", "title": "Rec One", "text": "record one text"},
                     {"_id": "r2", "title": "Rec Two", "text": "record two text"},
                     {"_id": "x#1", "title": "Hash", "text": "an id with a hash"}]
        self.jl = self.write_jsonl("recs.jsonl", self.recs)
        self.init("--chunk-size", "16", "--chunk-overlap", "4")
        self.ingest_json("-r", self.path("d"))
        self.ingest_json(self.jl, "--collection", "records")

    # --- get ---------------------------------------------------------------------------------

    def test_get_by_id(self):
        r = self.ok("get", "r1")
        self.assertEqual(r.out, "record one text\n")
        self.assertEqual(r.err, "")

    def test_get_by_absolute_and_relative_path(self):
        self.assertEqual(self.ok("get", self.c).out, "sea text\n")
        self.assertEqual(self.ok("get", "d/sub/c.txt", cwd=self.tmp).out, "sea text\n")
        self.assertEqual(self.ok("get", "c.txt", cwd=self.path("d", "sub")).out, "sea text\n")
        self.assertEqual(self.ok("get", "../sub/c.txt", cwd=self.path("d", "sub")).out,
                         "sea text\n")

    def test_get_json(self):
        doc = self.get_json(self.b)
        for key in ("id", "title", "source", "collection", "meta", "hash", "bytes", "chunks",
                    "updated", "text", "chunk_list"):
            self.assertIn(key, doc)
        self.assertEqual(doc["id"], self.b)
        self.assertEqual(doc["title"], "Bee")
        self.assertEqual(doc["collection"], "default")
        with open(self.b, "rb") as f:
            raw = f.read()
        self.assertEqual(doc["text"], raw.decode())
        self.assertEqual(doc["bytes"], len(raw))
        self.assertEqual(doc["chunks"], len(doc["chunk_list"]))
        self.assertEqual([c["heading"] for c in doc["chunk_list"]], ["Bee", "Bee > More"])
        for c in doc["chunk_list"]:
            for key in ("seq", "heading", "start", "end", "tokens"):
                self.assertIn(key, c)

    def test_get_chunk(self):
        doc = self.get_json(self.a)
        self.assertGreater(len(doc["chunk_list"]), 2)
        text = doc["text"].encode()
        for c in doc["chunk_list"]:
            r = self.ok("get", f"{self.a}#{c['seq']}")
            self.assertEqual(r.out_bytes.rstrip(b"\n"), text[c["start"]:c["end"]])
        one = self.get_json(f"{self.a}#1")
        self.assertEqual(len(one["chunk_list"]), 1)
        self.assertEqual(one["chunk_list"][0]["seq"], 1)
        self.assertEqual(self.ok("get", "r2#0").out, "record two text\n")

    def test_get_chunk_by_relative_path(self):
        # Regression (fixed in 0616bc2): `rk get PATH#N` worked only with the absolute path,
        # although `rk get --help` shows `rk get 'docs/install.md#2'`.
        doc = self.get_json(self.a)
        first = doc["chunk_list"][0]
        r = self.ok("get", "d/a.txt#0", cwd=self.tmp)
        self.assertEqual(r.out_bytes.rstrip(b"\n"),
                         doc["text"].encode()[first["start"]:first["end"]])
        self.assertEqual(self.get_json("a.txt#1", cwd=self.path("d"))["chunk_list"][0]["seq"], 1)

    def test_get_id_containing_hash(self):
        # An id that itself looks like ID#N is found as the id first.
        self.assertEqual(self.ok("get", "x#1").out, "an id with a hash\n")
        self.assertEqual(self.ok("get", "x#1#0").out, "an id with a hash\n")

    def test_get_missing(self):
        for key in ("nope", self.path("d", "missing.txt"), "r1#99", f"{self.a}#999", "#0"):
            with self.subTest(key=key):
                r = self.rk("get", key)
                self.assertEqual(r.code, 1, r)
                self.assertNoStdout(r)
                r = self.rk("get", key, "--format", "json")
                self.assertEqual(r.code, 1, r)
                self.assertNoStdout(r)

    # --- ls ----------------------------------------------------------------------------------

    def test_ls_formats(self):
        all_ids = sorted([self.a, self.b, self.c, "r1", "r2", "x#1"])
        text = self.ok("ls").out.splitlines()
        self.assertEqual(len(text), 6)
        arr = self.ok("ls", "--format", "json").json()
        self.assertIsInstance(arr, list)
        self.assertEqual(sorted(d["id"] for d in arr), all_ids)
        jl = self.ls()
        self.assertEqual(jl, arr)
        tsv = [line.split("\t") for line in self.ok("ls", "--format", "tsv").out.splitlines()]
        self.assertEqual(len(tsv), 6)
        for row in tsv:
            self.assertEqual(len(row), 5, row)
        by_id = {row[0]: row for row in tsv}
        self.assertEqual(sorted(by_id), all_ids)
        self.assertEqual(by_id["r1"][1], "records")
        self.assertEqual(by_id["r1"][4], "Rec One")
        doc = next(d for d in arr if d["id"] == self.b)
        self.assertEqual(by_id[self.b][2], str(doc["chunks"]))
        self.assertEqual(by_id[self.b][3], str(doc["bytes"]))

    def test_ls_collection_and_glob(self):
        self.assertEqual(self.ids("--collection", "records"), ["r1", "r2", "x#1"])
        self.assertEqual(self.ids("--collection", "default"), sorted([self.a, self.b, self.c]))
        self.assertEqual(self.ids("--collection", "nothing-here"), [])
        self.assertEqual(self.ids("*.txt"), sorted([self.a, self.c]))
        self.assertEqual(self.ids("*/sub/*"), sorted([self.b, self.c]))
        self.assertEqual(self.ids("r?"), ["r1", "r2"])
        self.assertEqual(self.ids("*.txt", "--collection", "records"), [])

    def test_ls_glob_relative_path_like_rm(self):
        # Regression (fixed in 0616bc2): `rk ls 'sub/*'` listed nothing while `rk rm 'sub/*'`
        # removed d/sub/*: ls matched relative globs only against the absolute ids.
        cwd = self.path("d")
        listed = sorted(line.split("\t")[0] for line in
                        self.ok("ls", "--format", "tsv", "sub/*", cwd=cwd).out.splitlines())
        self.ok("rm", "sub/*", cwd=cwd)
        removed = sorted({self.a, self.b, self.c, "r1", "r2", "x#1"} - set(self.ids()))
        self.assertEqual(removed, sorted([self.b, self.c]))
        self.assertEqual(listed, removed)

    def test_ls_into_closed_pipe(self):
        for i in range(300):
            self.write(f"many/f{i:03d}.txt", f"file number {i}\n")
        self.ingest_json("-r", self.path("many"))
        p = subprocess.Popen([self.RK, "--index", self.index, "ls", "--format", "jsonl"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env,
                             cwd=self.work, stdin=subprocess.DEVNULL)
        p.stdout.readline()
        p.stdout.close()  # like `rk ls | head -1`
        err = p.stderr.read()
        p.stderr.close()
        p.wait(timeout=60)
        self.assertIn(p.returncode, (0, -signal.SIGPIPE), err)
        self.assertNotIn(b"error", err)

    def test_stdout_full_is_an_error(self):
        if not os.path.exists("/dev/full"):
            self.skipTest("no /dev/full")
        with open("/dev/full", "wb") as full:
            p = subprocess.run([self.RK, "--index", self.index, "ls", "--format", "jsonl"],
                               stdout=full, stderr=subprocess.PIPE, env=self.env, cwd=self.work,
                               stdin=subprocess.DEVNULL, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertTrue(p.stderr.decode().startswith("rk: error:"), p.stderr)

    def test_ls_empty_index(self):
        idx = self.path("empty")
        self.init(index=idx)
        for fmt, expect in (("text", ""), ("jsonl", ""), ("tsv", "")):
            self.assertEqual(self.ok("ls", "--format", fmt, index=idx).out, expect)
        self.assertEqual(json.loads(self.ok("ls", "--format", "json", index=idx).out), [])

    def test_ls_bad_format(self):
        r = self.rk("ls", "--format", "yaml")
        self.assertError(r, 2)
        self.assertNoStdout(r)

    # --- rm ----------------------------------------------------------------------------------

    def test_rm_by_id(self):
        r = self.ok("rm", "r1")
        self.assertNoStdout(r)
        self.assertNotIn("r1", self.ids())
        self.assertEqual(self.stats()["documents"], 5)
        self.assertEqual(self.rk("get", "r1").code, 1)
        self.ok("index", "verify")

    def test_rm_by_path(self):
        self.ok("rm", "d/sub/c.txt", cwd=self.tmp)
        self.assertNotIn(self.c, self.ids())
        self.ok("rm", self.a)
        self.assertNotIn(self.a, self.ids())
        self.assertEqual(self.stats()["documents"], 4)

    def test_rm_by_glob(self):
        self.ok("rm", "*/sub/*")
        self.assertEqual(self.ids("--collection", "default"), [self.a])
        self.ok("rm", "r*")
        self.assertEqual(self.ids("--collection", "records"), ["x#1"])
        self.ok("index", "verify")

    def test_rm_by_collection(self):
        self.ok("rm", "--collection", "records")
        self.assertEqual(self.ids(), sorted([self.a, self.b, self.c]))
        self.assertEqual(self.stats()["collections"], {"default": 3})
        self.ok("index", "verify")

    def test_rm_several(self):
        self.ok("rm", "r1", "r2", self.a)
        self.assertEqual(self.ids(), sorted([self.b, self.c, "x#1"]))

    def test_rm_nothing_matched(self):
        before = self.ls()
        for args in (["nope"], ["*.nothing"], ["--collection", "nothing-here"]):
            with self.subTest(args=args):
                r = self.rk("rm", *args)
                self.assertEqual(r.code, 1, r)
                self.assertNoStdout(r)
        self.assertEqual(self.ls(), before)

    def test_rm_needs_a_selector(self):
        self.assertError(self.rk("rm"), 2)

    def test_rm_then_reingest(self):
        self.ok("rm", self.c)
        s = self.ingest_json("-r", self.path("d"))
        self.assertEqual((s["added"], s["unchanged"]), (1, 2))

    # --- stats, verify ---------------------------------------------------------------------

    def test_stats_counts(self):
        st = self.stats()
        self.assertEqual(st["documents"], 6)
        docs = self.ls()
        self.assertEqual(st["chunks"], sum(d["chunks"] for d in docs))
        self.assertEqual(st["text_bytes"], sum(d["bytes"] for d in docs))
        self.assertEqual(st["collections"], {"default": 3, "records": 3})
        self.assertGreaterEqual(st["schema_version"], 1)
        self.assertEqual(st["settings"]["chunk_size"], 16)
        self.assertEqual(st["settings"]["chunk_overlap"], 4)
        self.assertTrue(os.path.samefile(st["index"], self.index))
        self.assertGreater(st["db_bytes"], 0)
        # The text form is for people, but it is on stdout and succeeds.
        r = self.ok("stats")
        self.assertIn("6", r.out)

    def test_verify_ok(self):
        r = self.ok("index", "verify")
        self.assertNoStdout(r)
        idx = self.path("empty")
        self.init(index=idx)
        self.ok("index", "verify", index=idx)

    def test_postings_segments_and_optimize(self):
        # Each ingest writes a segment of postings; optimize merges them all into one and
        # drops removed chunks' entries.
        for n in range(3):
            self.ok("ingest", self.write(f"extra{n}.txt", f"an extra note number {n}\n"))
        self.assertGreater(self.stats()["postings"]["segments"], 1)
        self.ok("rm", self.path("extra1.txt"))
        self.ok("index", "optimize")
        postings = self.stats()["postings"]
        self.assertEqual((postings["segments"], postings["dead_chunks"]), (1, 0))
        # The one segment's copy, which queries read.
        files = os.listdir(os.path.join(self.index, "postings"))
        self.assertEqual(len(files), 1)
        self.assertEqual(postings["file_bytes"],
                         os.path.getsize(os.path.join(self.index, "postings", files[0])))
        self.ok("index", "verify")
        self.assertIn("1 segment (files ", self.ok("stats").out)

    def test_rebuild_and_optimize_keep_it_healthy(self):
        self.ok("index", "rebuild")
        self.ok("index", "optimize")
        self.ok("index", "verify")
        self.assertEqual(self.stats()["documents"], 6)


if __name__ == "__main__":
    unittest.main()
