"""rk ingest: sources, flags, incremental updates, errors and output discipline."""

import json
import os
import random
import unittest

from rkcli import RkTestCase

SUMMARY_KEYS = {"added", "updated", "unchanged", "skipped", "failed", "pruned", "chunks", "bytes",
                "seconds"}


class Sources(RkTestCase):
    """Files, directories, globs, stdin, --stdin-paths."""

    def setUp(self):
        super().setUp()
        self.d = self.path("d")
        self.files = {
            "d/a.txt": "alpha text file\n",
            "d/b.md": "# Bee\n\nmarkdown body\n",
            "d/sub/c.md": "# Sea\n\nnested markdown\n",
            "d/sub/deeper/e.md": "# Eee\n\ndeep markdown\n",
            "d/sub/f.log": "a log line\n",
            "d/.hidden.txt": "hidden file\n",
            "d/.hdir/g.txt": "in a hidden directory\n",
            "d/.git/config": "[core]\n\tbare = false\n",
            "d/sub/.git/HEAD": "ref: refs/heads/main\n",
        }
        for rel, text in self.files.items():
            self.write(rel, text)

    def p(self, rel):
        return self.path(rel)

    def test_files(self):
        s = self.ingest_json(self.p("d/a.txt"), self.p("d/b.md"))
        self.assertEqual(s["added"], 2)
        self.assertEqual(self.ids(), sorted([self.p("d/a.txt"), self.p("d/b.md")]))

    def test_relative_paths_become_absolute_ids(self):
        self.ingest_json("a.txt", "sub/c.md", cwd=self.d)
        self.assertEqual(self.ids(), sorted([self.p("d/a.txt"), self.p("d/sub/c.md")]))

    def test_directory_needs_r(self):
        r = self.rk("ingest", self.d)
        self.assertError(r, 2, mentions=["-r"])
        self.assertNoStdout(r)
        if os.path.exists(os.path.join(self.index, "rk.db")):
            self.assertEqual(self.stats()["documents"], 0)

    def test_directory_recursive_skips_hidden_and_git(self):
        s = self.ingest_json("-r", self.d)
        expected = sorted(self.p(x) for x in
                          ("d/a.txt", "d/b.md", "d/sub/c.md", "d/sub/deeper/e.md", "d/sub/f.log"))
        self.assertEqual(self.ids(), expected)
        self.assertEqual(s["added"], 5)

    def test_hidden_flag_includes_hidden_never_git(self):
        self.ingest_json("-r", "--hidden", self.d)
        ids = self.ids()
        self.assertIn(self.p("d/.hidden.txt"), ids)
        self.assertIn(self.p("d/.hdir/g.txt"), ids)
        self.assertFalse([i for i in ids if "/.git/" in i], ids)
        self.assertEqual(len(ids), 7)

    def test_glob_double_star(self):
        # Quoted, so that rk expands it.
        s = self.ingest_json(self.d + "/**/*.md")
        self.assertEqual(self.ids(), sorted(self.p(x) for x in
                                            ("d/b.md", "d/sub/c.md", "d/sub/deeper/e.md")))
        self.assertEqual(s["added"], 3)

    def test_glob_relative_to_cwd(self):
        self.ingest_json("d/**/*.md", cwd=self.tmp)
        self.assertEqual(len(self.ids()), 3)

    def test_glob_single_star_does_not_cross_directories(self):
        self.ingest_json(self.d + "/*.md")
        self.assertEqual(self.ids(), [self.p("d/b.md")])
        self.ingest_json(self.d + "/sub/*")
        self.assertEqual(self.ids(), sorted(self.p(x) for x in
                                            ("d/b.md", "d/sub/c.md", "d/sub/f.log")))

    def test_glob_matching_nothing_is_an_error(self):
        r = self.rk("ingest", self.d + "/**/*.nothing", self.p("d/a.txt"))
        self.assertError(r, 2, mentions=["*.nothing"])
        self.assertEqual(self.ids(), [self.p("d/a.txt")])

    def test_stdin_plain_text(self):
        text = "A note from standard input\nwith a second line\n"
        s = self.ingest_json("-", stdin=text)
        self.assertEqual(s["added"], 1)
        docs = self.ls()
        self.assertEqual(len(docs), 1)
        self.assertEqual(self.ok("get", docs[0]["id"]).out, text)
        # The same text again is the same document.
        s = self.ingest_json("-", stdin=text)
        self.assertEqual((s["added"], s["unchanged"]), (0, 1))

    def test_stdin_jsonl(self):
        recs = [{"_id": "s1", "title": "One", "text": "first record from stdin"},
                {"_id": "s2", "title": "Two", "text": "second record from stdin"}]
        s = self.ingest_json("-", stdin="".join(json.dumps(r) + "\n" for r in recs))
        self.assertEqual(s["added"], 2)
        self.assertEqual(self.ids(), ["s1", "s2"])
        self.assertEqual(self.ok("get", "s2").out, "second record from stdin\n")
        self.assertEqual(self.get_json("s1")["title"], "One")

    def test_stdin_paths_newline(self):
        spaced = self.write("d/with space.txt", "a file name with a space\n")
        listing = "\n".join([self.p("d/a.txt"), "d/b.md", spaced]) + "\n"
        s = self.ingest_json("--stdin-paths", stdin=listing, cwd=self.tmp)
        self.assertEqual(s["added"], 3)
        self.assertEqual(self.ids(), sorted([self.p("d/a.txt"), self.p("d/b.md"), spaced]))

    def test_stdin_paths_nul(self):
        odd = self.write("d/new\nline.txt", "a file name with a newline\n")
        listing = "\0".join([self.p("d/a.txt"), odd]) + "\0"
        s = self.ingest_json("--stdin-paths", "-0", stdin=listing)
        self.assertEqual(s["added"], 2)
        self.assertEqual(self.ids(), sorted([self.p("d/a.txt"), odd]))
        self.assertEqual(self.ok("get", odd).out, "a file name with a newline\n")

    def test_stdin_paths_empty(self):
        r = self.rk("ingest", "--stdin-paths", stdin="")
        self.assertEqual(r.code, 0, r)
        self.assertNoStdout(r)

    def test_include_exclude(self):
        # Paths first: see test_repeatable_options_take_one_value_each for the other order.
        self.ingest_json("-r", self.d, "--include", "*.md")
        self.assertEqual(len(self.ids()), 3)
        other = self.path("other-index")
        self.ingest_json("-r", self.d, "--exclude", "*.md", "--exclude", "deeper", index=other)
        self.assertEqual(self.ids(index=other),
                         sorted([self.p("d/a.txt"), self.p("d/sub/f.log")]))
        third = self.path("third-index")
        self.ingest_json("-r", self.d, "--include", "*.md", "--exclude", "sub", index=third)
        self.assertEqual(self.ids(index=third), [self.p("d/b.md")])
        fourth = self.path("fourth-index")
        self.ingest_json("-r", self.d, "--exclude", "sub/*.log", index=fourth)
        self.assertNotIn(self.p("d/sub/f.log"), self.ids(index=fourth))
        self.assertEqual(len(self.ids(index=fourth)), 4)

    def test_repeatable_options_take_one_value_each(self):
        # Regression: these options were greedy and swallowed the paths after them.
        # Each occurrence of a repeatable option takes exactly one value.
        self.ingest_json("-r", "--include", "*.md", self.d)
        self.assertEqual(len(self.ids()), 3)
        other = self.path("other-index")
        self.ingest_json("--meta", "team=search", self.p("d/a.txt"), index=other)
        self.assertEqual(self.get_json(self.p("d/a.txt"), index=other)["meta"],
                         {"team": "search"})
        third = self.path("third-index")
        self.ingest_json("-r", self.p("d/sub/deeper"), "--exclude", "*.log", self.p("d/a.txt"),
                         index=third)
        self.assertEqual(self.ids(index=third),
                         sorted([self.p("d/a.txt"), self.p("d/sub/deeper/e.md")]))

    def test_collection(self):
        self.ingest_json("--collection", "notes", self.p("d/a.txt"))
        self.ingest_json(self.p("d/b.md"))
        self.assertEqual(self.ids("--collection", "notes"), [self.p("d/a.txt")])
        self.assertEqual(self.ids("--collection", "default"), [self.p("d/b.md")])
        cols = self.stats()["collections"]
        self.assertEqual(cols, {"notes": 1, "default": 1})
        self.assertEqual(self.get_json(self.p("d/a.txt"))["collection"], "notes")

    def test_meta(self):
        self.ingest_json(self.p("d/a.txt"), "--meta", "team=search", "--meta", "lang=en",
                         "--meta", "eq=a=b")
        meta = self.get_json(self.p("d/a.txt"))["meta"]
        self.assertEqual(meta, {"team": "search", "lang": "en", "eq": "a=b"})

    def test_meta_on_records(self):
        self.write_jsonl("r.jsonl", [{"_id": "m1", "text": "record text", "source": "web"}])
        self.ingest_json(self.path("r.jsonl"), "--meta", "team=search")
        meta = self.get_json("m1")["meta"]
        self.assertEqual(meta.get("team"), "search")

    def test_bad_meta(self):
        for bad in ("novalue", "=value"):
            with self.subTest(meta=bad):
                r = self.rk("ingest", self.p("d/a.txt"), "--meta", bad)
                self.assertError(r, 2, mentions=[bad])
                self.assertNoStdout(r)

    def test_stdin_with_files(self):
        s = self.ingest_json("-", self.p("d/a.txt"), stdin="from stdin\n")
        self.assertEqual(s["added"], 2)

    def test_stdin_jsonl_malformed_line(self):
        r = self.rk("ingest", "--json", "-",
                    stdin='{"_id": "s1", "text": "ok"}\n{"_id": "s2", "text": }\n'
                          '{"_id": "s3", "text": "ok too"}\n')
        self.assertError(r, 2, mentions=["<stdin>:2"])
        self.assertEqual(self.ids(), ["s1", "s3"])

    def test_same_file_named_twice(self):
        a = self.p("d/a.txt")
        r = self.rk("ingest", "--json", a, a, self.d + "/*.txt", "a.txt", cwd=self.d)
        self.assertEqual(r.code, 0, r)
        self.assertEqual((r.json()["added"], r.json()["updated"]), (1, 0))
        self.assertNotIn("duplicate", r.err)

    def test_index_inside_the_walked_tree_is_not_ingested(self):
        # Neither ./.rk nor an --index directory under the walked tree (its lock file is text).
        proj = self.path("proj")
        self.write("proj/a.txt", "project file\n")
        self.init(index=None, cwd=proj)
        self.ingest_json("-r", ".", index=None, cwd=proj)
        self.ingest_json("-r", "--hidden", ".", index=None, cwd=proj)
        self.assertEqual(self.ids(index=None, cwd=proj), [self.path("proj", "a.txt")])
        inner = self.path("proj", "myindex")
        self.ingest_json("-r", proj, index=inner)
        s = self.ingest_json("-r", proj, index=inner)
        self.assertEqual((s["added"], s["unchanged"]), (0, 1))
        self.assertEqual(self.ids(index=inner), [self.path("proj", "a.txt")])

    def test_nothing_to_ingest(self):
        r = self.rk("ingest")
        self.assertError(r, 2)
        self.assertNoStdout(r)


class DryRun(RkTestCase):

    def test_dry_run_changes_nothing(self):
        a = self.write("a.txt", "first version\n")
        b = self.write("b.txt", "unchanged text\n")
        self.ingest_json(a, b)
        before = self.stats()
        listing = self.ok("ls", "--format", "jsonl").out
        self.write("a.txt", "second version\n")
        c = self.write("c.txt", "a new file\n")
        r = self.rk("ingest", "--dry-run", a, b, c)
        self.assertEqual(r.code, 0, r)
        lines = r.out.splitlines()
        for line in lines:
            self.assertRegex(line, r"^[a-z]+\t.+$")
        actions = dict(reversed(line.split("\t", 1)) for line in lines)
        self.assertEqual(actions.get(a), "update", r)
        self.assertEqual(actions.get(c), "add", r)
        self.assertNotIn(actions.get(b), ("add", "update"), r)
        after = self.stats()
        for k in ("documents", "chunks", "text_bytes", "updated"):
            self.assertEqual(before[k], after[k], k)
        self.assertEqual(self.ok("ls", "--format", "jsonl").out, listing)
        self.assertEqual(self.ok("get", a).out, "first version\n")

    def test_dry_run_with_json_summary(self):
        a = self.write("a.txt", "text\n")
        self.init()
        r = self.rk("ingest", "--dry-run", "--json", a)
        self.assertEqual(r.code, 0, r)
        # The listing and then the summary; the summary says what would have happened.
        last = json.loads(r.out.splitlines()[-1])
        self.assertEqual(last["added"], 1)
        self.assertEqual(self.stats()["documents"], 0)

    def test_dry_run_prune(self):
        d = self.path("d")
        a = self.write("d/a.txt", "stays\n")
        b = self.write("d/b.txt", "goes\n")
        self.ingest_json("-r", d)
        os.remove(b)
        r = self.rk("ingest", "-r", "--prune", "--dry-run", d)
        self.assertEqual(r.code, 0, r)
        self.assertIn(f"prune\t{b}", r.out.splitlines())
        self.assertEqual(self.ids(), sorted([a, b]))


class Jobs(RkTestCase):

    def test_jobs_1_and_4_identical(self):
        rnd = random.Random(42)
        words = ["lorem", "ipsum", "dolor", "sit", "amet", "café", "naïve", "über", "x", "y.",
                 "end.", "why?", "z"]
        for i in range(40):
            body = "\n\n".join(" ".join(rnd.choices(words, k=rnd.randint(5, 80)))
                               for _ in range(rnd.randint(1, 5)))
            if i % 3 == 0:
                self.write(f"src/doc{i:02d}.md", f"# Title {i}\n\n{body}\n\n## Part\n\n{body}\n")
            else:
                self.write(f"src/sub{i % 4}/doc{i:02d}.txt", body + "\n")
        self.write_jsonl("src/records.jsonl",
                         [{"_id": f"rec{i}", "title": f"R{i}",
                           "text": " ".join(rnd.choices(words, k=rnd.randint(1, 300)))}
                          for i in range(700)])
        self.write("src/arr.json", json.dumps(
            [{"_id": f"arr{i}", "text": " ".join(rnd.choices(words, k=40))} for i in range(30)]))
        i1, i4 = self.path("i1"), self.path("i4")
        for idx, jobs in ((i1, "1"), (i4, "4")):
            self.init("--chunk-size", "32", "--chunk-overlap", "4", index=idx)
            s = self.ingest_json("-r", "--jobs", jobs, self.path("src"), index=idx)
            self.assertEqual(s["failed"], 0)
        tsv1 = self.ok("ls", "--format", "tsv", index=i1).out
        tsv4 = self.ok("ls", "--format", "tsv", index=i4).out
        self.assertEqual(tsv1, tsv4)
        self.assertEqual(len(tsv1.splitlines()), 40 + 700 + 30)
        for line in tsv1.splitlines()[::7]:
            doc_id = line.split("\t")[0]
            g1 = self.get_json(doc_id, index=i1)
            g4 = self.get_json(doc_id, index=i4)
            g1.pop("updated")
            g4.pop("updated")
            self.assertEqual(g1, g4, doc_id)
        s1, s4 = self.stats(index=i1), self.stats(index=i4)
        for k in ("documents", "chunks", "text_bytes"):
            self.assertEqual(s1[k], s4[k], k)


class Incremental(RkTestCase):

    def setUp(self):
        super().setUp()
        self.d = self.path("d")
        self.a = self.write("d/a.txt", "alpha document\n")
        self.b = self.write("d/b.md", "# Bee\n\nbee document\n")
        self.c = self.write("d/sub/c.txt", "sea document\n")
        self.r = self.write_jsonl("d/recs.jsonl", [
            {"_id": "r1", "text": "record one"}, {"_id": "r2", "text": "record two"},
            {"_id": "r3", "text": "record three"}])

    def listing(self, **kw):
        docs = self.ls(**kw)
        for d in docs:
            d.pop("updated")
        return docs

    def test_summary_keys_and_rerun_unchanged(self):
        s = self.ingest_json("-r", self.d)
        self.assertTrue(SUMMARY_KEYS <= set(s), s)
        self.assertEqual((s["added"], s["updated"], s["unchanged"], s["failed"]), (6, 0, 0, 0))
        self.assertGreaterEqual(s["chunks"], 6)
        self.assertGreater(s["bytes"], 0)
        before = self.listing()
        conn = self.db()
        table = conn.execute("SELECT ext_id, hash, body, updated FROM documents "
                             "ORDER BY ext_id").fetchall()
        chunks = conn.execute("SELECT * FROM chunks ORDER BY id").fetchall()
        conn.close()
        s = self.ingest_json("-r", self.d)
        self.assertEqual((s["added"], s["updated"], s["unchanged"], s["failed"], s["chunks"]),
                         (0, 0, 6, 0, 0))
        self.assertEqual(self.listing(), before)
        conn = self.db()
        self.assertEqual(conn.execute("SELECT ext_id, hash, body, updated FROM documents "
                                      "ORDER BY ext_id").fetchall(), table)
        self.assertEqual(conn.execute("SELECT * FROM chunks ORDER BY id").fetchall(), chunks)

    def test_changed_file_is_updated(self):
        self.ingest_json("-r", self.d)
        self.write("d/a.txt", "alpha document, revised\n")
        s = self.ingest_json("-r", self.d)
        self.assertEqual((s["added"], s["updated"], s["unchanged"]), (0, 1, 5))
        self.assertEqual(self.ok("get", self.a).out, "alpha document, revised\n")
        self.assertEqual(self.stats()["documents"], 6)
        self.ok("index", "verify")

    def test_changed_record_is_updated(self):
        self.ingest_json("-r", self.d)
        self.write_jsonl("d/recs.jsonl", [
            {"_id": "r1", "text": "record one"}, {"_id": "r2", "text": "record two, changed"},
            {"_id": "r3", "text": "record three"}])
        s = self.ingest_json(self.r)
        self.assertEqual((s["added"], s["updated"], s["unchanged"]), (0, 1, 2))
        self.assertEqual(self.ok("get", "r2").out, "record two, changed\n")

    def test_touched_file_is_unchanged(self):
        self.ingest_json("-r", self.d)
        os.utime(self.a, (1, 1))
        s = self.ingest_json("-r", self.d)
        self.assertEqual((s["updated"], s["unchanged"]), (0, 6))

    def test_moved_file(self):
        self.ingest_json("-r", self.d)
        moved = self.path("d", "sub", "moved.txt")
        os.rename(self.c, moved)
        s = self.ingest_json("-r", "--prune", self.d)
        self.assertEqual((s["added"], s["pruned"]), (1, 1))
        self.assertIn(moved, self.ids())
        self.assertNotIn(self.c, self.ids())

    def test_collection_change_is_an_update(self):
        self.ingest_json(self.a)
        s = self.ingest_json(self.a, "--collection", "other")
        self.assertEqual(s["updated"], 1)
        self.assertEqual(self.get_json(self.a)["collection"], "other")

    def test_duplicate_ids_rerun_unchanged(self):
        # The same id twice in one JSONL file: the later record replaces the earlier one with
        # a warning naming both places, and a rerun changes nothing (test_duplicate_ids.py
        # has the rest).
        dup = self.write_jsonl("dup.jsonl", [{"_id": "x", "text": "first version"},
                                             {"_id": "x", "text": "second version"},
                                             {"_id": "y", "text": "other"}])
        r = self.rk("ingest", "--json", dup, cwd=self.tmp)
        self.assertEqual(r.code, 0, r)
        self.assertIn("dup.jsonl:2", r.err)
        self.assertIn("dup.jsonl:1", r.err)
        self.assertEqual((r.json()["added"], r.json()["skipped"]), (2, 0))
        self.assertEqual(self.ok("get", "x").out, "second version\n")
        self.assertEqual(self.stats()["documents"], 2)
        before = self.ls()
        s = self.ingest_json(dup)
        self.assertEqual((s["updated"], s["unchanged"], s["skipped"]), (0, 2, 0), s)
        self.assertEqual(self.ok("get", "x").out, "second version\n")
        self.assertEqual(self.ls(), before)

    def test_deleted_file_kept_without_prune(self):
        self.ingest_json("-r", self.d)
        os.remove(self.c)
        s = self.ingest_json("-r", self.d)
        self.assertEqual(s["pruned"], 0)
        self.assertIn(self.c, self.ids())

    def test_prune_deleted_files(self):
        self.ingest_json("-r", self.d)
        os.remove(self.c)
        s = self.ingest_json("-r", "--prune", self.d)
        self.assertEqual(s["pruned"], 1)
        self.assertEqual(s["unchanged"], 5)
        self.assertNotIn(self.c, self.ids())
        self.assertEqual(self.stats()["documents"], 5)
        self.ok("index", "verify")

    def test_prune_removed_records(self):
        self.ingest_json("-r", self.d)
        self.write_jsonl("d/recs.jsonl", [{"_id": "r1", "text": "record one"},
                                          {"_id": "r3", "text": "record three"}])
        s = self.ingest_json("--prune", self.r)
        self.assertEqual((s["pruned"], s["unchanged"]), (1, 2))
        self.assertEqual(sorted(i for i in self.ids() if i.startswith("r")), ["r1", "r3"])
        # The files outside what was named are untouched.
        self.assertIn(self.a, self.ids())

    def test_prune_only_under_named_roots(self):
        other = self.write("elsewhere/x.txt", "outside the walked directory\n")
        self.ingest_json("-r", self.d, other)
        os.remove(other)
        s = self.ingest_json("-r", "--prune", self.d)
        self.assertEqual(s["pruned"], 0)
        self.assertIn(other, self.ids())

    def test_prune_records_of_a_deleted_jsonl_file(self):
        self.ingest_json("-r", self.d)
        os.remove(self.r)
        s = self.ingest_json("-r", "--prune", self.d)
        self.assertEqual((s["pruned"], s["unchanged"]), (3, 3))
        self.assertEqual([i for i in self.ids() if not i.startswith("/")], [])

    def test_prune_spares_records_of_a_file_with_errors(self):
        # A line that cannot be read this time is not proof its record is gone.
        self.ingest_json("-r", self.d)
        self.write("d/recs.jsonl", '{"_id": "r1", "text": "record one"}\n'
                                   '{"_id": "r2", "text": BROKEN\n'
                                   '{"_id": "r3", "text": "record three"}\n')
        s = self.ingest_json("--prune", self.r, expect=2)
        self.assertEqual((s["pruned"], s["failed"]), (0, 1))
        self.assertEqual(self.ok("get", "r2").out, "record two\n")


class Errors(RkTestCase):

    def test_missing_path_rest_goes_on(self):
        good = self.write("good.txt", "good text\n")
        r = self.rk("ingest", "--json", good, "missing.txt", cwd=self.tmp)
        self.assertError(r, 2, mentions=["missing.txt"])
        self.assertEqual(r.json()["failed"], 1)
        self.assertEqual(r.json()["added"], 1)
        self.assertEqual(self.ids(), [good])

    def test_links_that_lead_nowhere_fail_in_a_walk_as_when_named(self):
        good = self.write("tree/good.txt", "good text\n")
        tree = os.path.dirname(good)
        os.symlink("missing.txt", os.path.join(tree, "dangling.txt"))
        os.symlink("loop-b", os.path.join(tree, "loop-a"))
        os.symlink("loop-a", os.path.join(tree, "loop-b"))
        os.symlink("good.txt", os.path.join(tree, "alias.txt"))
        os.mkfifo(os.path.join(tree, "pipe"))
        # Ignored names are ignored whatever they are.
        os.symlink("missing.txt", os.path.join(tree, ".hidden-link"))
        r = self.rk("ingest", "--json", "-r", tree)
        self.assertError(r, 2, mentions=["dangling.txt", "missing.txt", "loop-a", "loop-b"])
        self.assertEqual((r.json()["failed"], r.json()["added"]), (3, 2))
        self.assertIn("dangling symbolic link", r.err)
        self.assertIn("cannot follow symbolic link", r.err)
        self.assertNotIn(".hidden-link", r.err)
        self.assertNotIn("pipe", r.err)
        # Named directly, the same link fails the same way.
        r = self.rk("ingest", "--json", os.path.join(tree, "dangling.txt"))
        self.assertError(r, 2, mentions=["dangling.txt"])
        self.assertEqual(r.json()["failed"], 1)

    def test_malformed_jsonl_line(self):
        src = self.write("recs.jsonl",
                         '{"_id": "a", "text": "alpha"}\n'
                         '{"_id": "b", "text": oops}\n'
                         '\n'
                         '{"_id": "c", "text": "gamma"}\n'
                         '[1, 2]\n'
                         '{"_id": "d", "text": "delta"}\n')
        r = self.rk("ingest", "--json", src, cwd=self.tmp)
        errors = self.assertError(r, 2, mentions=["recs.jsonl:2", "recs.jsonl:5"])
        for e in errors:
            self.assertEqual(e.count("\n"), 0)
        s = r.json()
        self.assertEqual((s["added"], s["failed"]), (3, 2))
        self.assertEqual(self.ids(), ["a", "c", "d"])

    def test_truncated_last_jsonl_line(self):
        src = self.write("recs.jsonl",
                         '{"_id": "a", "text": "alpha"}\n'
                         '{"_id": "b", "text": "beta"}\n'
                         '{"_id": "c", "text": "gam')
        r = self.rk("ingest", "--json", src, cwd=self.tmp)
        self.assertError(r, 2, mentions=["recs.jsonl:3"])
        self.assertEqual(r.json()["added"], 2)
        self.assertEqual(self.ids(), ["a", "b"])

    def test_wrong_field_type(self):
        src = self.write("recs.jsonl",
                         '{"_id": "a", "text": "alpha"}\n'
                         '{"_id": "b", "text": ["not", "a", "string"]}\n')
        r = self.rk("ingest", src, cwd=self.tmp)
        self.assertError(r, 2, mentions=["recs.jsonl:2"])
        self.assertEqual(self.ids(), ["a"])

    def test_malformed_json_file(self):
        good = self.write("good.txt", "good text\n")
        bad = self.write("broken.json", '[{"_id": "a", "text": "x"}, {"_id": ')
        r = self.rk("ingest", good, bad, cwd=self.tmp)
        self.assertError(r, 2, mentions=["broken.json"])
        self.assertEqual(self.ids(), [good])


class OutputDiscipline(RkTestCase):

    def setUp(self):
        super().setUp()
        self.a = self.write("a.txt", "some text\n")

    def test_ingest_prints_nothing_on_stdout(self):
        r = self.ok("ingest", self.a)
        self.assertNoStdout(r)
        self.assertTrue(r.err.strip(), "expected a summary on stderr")
        r = self.ok("ingest", "-v", self.a)
        self.assertNoStdout(r)

    def test_quiet(self):
        r = self.ok("-q", "ingest", self.a)
        self.assertNoStdout(r)
        self.assertEqual(r.err, "")
        r = self.ok("ingest", "--quiet", self.a)
        self.assertEqual(r.err, "")
        r = self.ok("ingest", "-q", "--json", self.a)
        self.assertEqual(r.err, "")
        self.assertEqual(r.json()["unchanged"], 1)

    def test_quiet_still_reports_errors(self):
        r = self.rk("-q", "ingest", self.a, self.path("missing.txt"))
        self.assertError(r, 2, mentions=["missing.txt"])
        self.assertNoStdout(r)

    def test_json_summary_is_the_only_stdout(self):
        r = self.ok("ingest", "--json", self.write("b.txt", "more\n"))
        self.assertEqual(len(r.out.splitlines()), 1)
        self.assertTrue(SUMMARY_KEYS <= set(r.json()))

    def test_errors_are_single_lines(self):
        cases = [
            ["ingest"],
            ["ingest", "--no-such-flag", self.a],
            ["ingest", self.path("missing.txt")],
            ["ingest", "-r"],
            ["get"],
            ["rm"],
            ["frobnicate"],
        ]
        for args in cases:
            with self.subTest(args=args):
                r = self.rk(*args)
                self.assertEqual(r.code, 2, r)
                self.assertNoStdout(r)
                lines = r.err.splitlines()
                self.assertTrue(any(line.startswith("rk: error:") for line in lines), r)
                # Every line mentioning an error is an `rk: error:` line.
                for line in lines:
                    if "error" in line.lower():
                        self.assertTrue(line.startswith("rk: error:"), r)


if __name__ == "__main__":
    unittest.main()
