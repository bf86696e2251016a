"""The index directory: where it is, how it is created, what it records, who may write."""

import fcntl
import os
import random
import shutil
import sqlite3
import subprocess
import time
import unittest

from rkcli import TIMEOUT, RkTestCase


def samefile(a, b):
    return os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)


class IndexResolution(RkTestCase):
    """--index, else $RK_INDEX, else the nearest .rk/ up from cwd, else XDG_DATA_HOME/rk/default."""

    def setUp(self):
        super().setUp()
        self.doc = self.write("doc.txt", "resolution test document\n")
        # Four candidate indexes, each created at a known place.
        self.flag_idx = self.path("flag-idx")
        self.env_idx = self.path("env-idx")
        self.proj = self.path("proj")
        self.deep = self.path("proj", "sub", "deeper")
        os.makedirs(self.deep)
        for d in (self.flag_idx, self.env_idx):
            self.init(index=d)
        self.init(index=None, cwd=self.proj)
        self.assertTrue(os.path.isfile(os.path.join(self.proj, ".rk", "rk.db")))

    def chosen(self, **kw):
        return self.stats(**kw)["index"]

    def _no_rk_above(self, start):
        d = os.path.dirname(start)
        while True:
            if os.path.isdir(os.path.join(d, ".rk")):
                self.skipTest(f"{d}/.rk exists above the temporary directory")
            parent = os.path.dirname(d)
            if parent == d:
                return
            d = parent

    def test_flag_wins_over_everything(self):
        got = self.chosen(index=self.flag_idx, cwd=self.deep, env={"RK_INDEX": self.env_idx})
        self.assertTrue(samefile(got, self.flag_idx), got)

    def test_env_wins_over_found_and_xdg(self):
        got = self.chosen(index=None, cwd=self.deep, env={"RK_INDEX": self.env_idx})
        self.assertTrue(samefile(got, self.env_idx), got)

    def test_nearest_dot_rk_in_a_parent(self):
        got = self.chosen(index=None, cwd=self.deep)
        self.assertTrue(samefile(got, os.path.join(self.proj, ".rk")), got)
        # A nearer one wins over the farther one.
        sub = os.path.join(self.proj, "sub")
        self.init(index=None, cwd=sub)
        got = self.chosen(index=None, cwd=self.deep)
        self.assertTrue(samefile(got, os.path.join(sub, ".rk")), got)

    def test_dot_rk_in_cwd_itself(self):
        got = self.chosen(index=None, cwd=self.proj)
        self.assertTrue(samefile(got, os.path.join(self.proj, ".rk")), got)

    def test_fallback_to_xdg_data_home(self):
        self._no_rk_above(self.work)
        self.ok("ingest", self.doc, index=None, cwd=self.work)
        expected = os.path.join(self.xdg, "rk", "default")
        self.assertTrue(os.path.isfile(os.path.join(expected, "rk.db")))
        got = self.chosen(index=None, cwd=self.work)
        self.assertTrue(samefile(got, expected), got)
        self.assertEqual(self.stats(index=expected)["documents"], 1)

    def test_fallback_to_home_without_xdg(self):
        self._no_rk_above(self.work)
        self.ok("ingest", self.doc, index=None, cwd=self.work, env={"XDG_DATA_HOME": None})
        expected = os.path.join(self.home, ".local", "share", "rk", "default")
        self.assertTrue(os.path.isfile(os.path.join(expected, "rk.db")))
        self.assertFalse(os.path.exists(os.path.join(self.xdg, "rk")))

    def test_readers_do_not_create_an_index(self):
        self._no_rk_above(self.work)
        r = self.rk("stats", index=None, cwd=self.work)
        self.assertError(r, 2)
        self.assertNoStdout(r)
        self.assertFalse(os.path.exists(os.path.join(self.xdg, "rk", "default", "rk.db")))


class Init(RkTestCase):

    def test_init_creates_dot_rk_in_cwd(self):
        proj = self.path("p")
        os.makedirs(proj)
        r = self.init(index=None, cwd=proj)
        self.assertNoStdout(r)
        self.assertTrue(os.path.isfile(os.path.join(proj, ".rk", "rk.db")))
        st = self.stats(index=None, cwd=proj)
        self.assertEqual(st["documents"], 0)
        self.assertEqual(st["chunks"], 0)

    def test_init_twice_fails(self):
        proj = self.path("p")
        os.makedirs(proj)
        self.init(index=None, cwd=proj)
        r = self.rk("init", index=None, cwd=proj)
        self.assertError(r, 2)
        self.assertNoStdout(r)
        # Also with --index, and an index made by ingest.
        self.init()
        self.assertError(self.rk("init"), 2)
        other = self.path("other")
        self.ok("ingest", self.write("a.txt", "some text\n"), index=other)
        self.assertError(self.rk("init", index=other), 2)
        self.assertEqual(self.stats(index=other)["documents"], 1)

    def test_init_dir_argument(self):
        target = self.path("explicit", "dir")
        self.ok("init", target, index=None)
        self.assertTrue(os.path.isfile(os.path.join(target, "rk.db")))

    def test_settings_fixed_at_creation(self):
        self.init("--tokenizer", "unicode", "--chunk-size", "64", "--chunk-overlap", "8")
        s = self.stats()["settings"]
        self.assertEqual(s["tokenizer"], "unicode")
        self.assertEqual(s["chunk_size"], 64)
        self.assertEqual(s["chunk_overlap"], 8)
        # Ingesting does not change them.
        self.ok("ingest", self.write("a.txt", "words " * 200))
        s2 = self.stats()["settings"]
        self.assertEqual(s, s2)
        # A second init with other settings is refused and changes nothing.
        self.assertError(self.rk("init", "--tokenizer", "trigram", "--chunk-size", "128"), 2)
        self.assertEqual(self.stats()["settings"], s)

    def test_bad_settings_refused(self):
        for args in (["--chunk-size", "15"], ["--chunk-size", "0"], ["--chunk-size", "abc"],
                     ["--chunk-size", "32", "--chunk-overlap", "16"],
                     ["--chunk-overlap", "-1"], ["--tokenizer", "klingon"],
                     ["--embedder", "no-such-embedder"]):
            with self.subTest(args=args):
                r = self.rk("init", *args)
                self.assertError(r, 2)
                self.assertNoStdout(r)
                self.assertFalse(os.path.exists(os.path.join(self.index, "rk.db")))

    def test_min_chunk_size_16_allowed(self):
        self.init("--chunk-size", "16", "--chunk-overlap", "4")
        self.assertEqual(self.stats()["settings"]["chunk_size"], 16)


class Database(RkTestCase):

    def setUp(self):
        super().setUp()
        self.ok("ingest", self.write("a.txt", "alpha beta gamma\n"))

    def test_wal_mode(self):
        mode = self.db().execute("PRAGMA journal_mode").fetchone()[0]
        self.assertEqual(mode.lower(), "wal")

    def test_wal_mode_after_init(self):
        idx = self.path("fresh")
        self.init(index=idx)
        mode = self.db(idx).execute("PRAGMA journal_mode").fetchone()[0]
        self.assertEqual(mode.lower(), "wal")

    def test_schema_version_recorded(self):
        v = self.db().execute("PRAGMA user_version").fetchone()[0]
        self.assertGreaterEqual(v, 1)
        self.assertEqual(self.stats()["schema_version"], v)

    def _set_user_version(self, v):
        conn = sqlite3.connect(os.path.join(self.index, "rk.db"))
        conn.execute(f"PRAGMA user_version = {int(v)}")
        conn.commit()
        conn.close()

    def test_newer_schema_is_a_clear_error(self):
        self._set_user_version(99)
        for args in (["stats"], ["stats", "--json"], ["ls"], ["get", "x"],
                     ["ingest", self.write("b.txt", "more text\n")], ["index", "verify"]):
            with self.subTest(args=args):
                r = self.rk(*args)
                errors = self.assertError(r, 2)
                self.assertIn("newer", errors[0], r)
                self.assertNoStdout(r)
        # Nothing was written, and the version is still the one we set.
        v = self.db().execute("PRAGMA user_version").fetchone()[0]
        self.assertEqual(v, 99)
        n = self.db().execute("SELECT count(*) FROM documents").fetchone()[0]
        self.assertEqual(n, 1)

    def _set_setting(self, key, value):
        conn = sqlite3.connect(os.path.join(self.index, "rk.db"))
        conn.execute("UPDATE settings SET value=? WHERE key=?", (value, key))
        self.assertEqual(conn.total_changes, 1, f"no setting {key!r} to tamper with")
        conn.commit()
        conn.close()

    def test_garbage_setting_value_is_a_clear_error(self):
        cases = [("chunk_size", "lots"), ("chunk_size", "12abc"), ("chunk_size", "5"),
                 ("chunk_overlap", "-3"), ("tokenizer", "klingon"),
                 ("embedder", "model-from-the-future")]
        for key, value in cases:
            with self.subTest(key=key, value=value):
                conn = sqlite3.connect(os.path.join(self.index, "rk.db"))
                old = conn.execute("SELECT value FROM settings WHERE key=?", (key,)).fetchone()
                conn.close()
                self.assertIsNotNone(old, f"no setting {key!r}")
                self._set_setting(key, value)
                try:
                    for args in (["stats", "--json"], ["ingest", self.path("a.txt")]):
                        r = self.rk(*args)
                        errors = self.assertError(r, 2)
                        self.assertNoStdout(r)
                        self.assertTrue(key in errors[0] or value in errors[0],
                                        f"error does not say which setting: {r!r}")
                finally:
                    self._set_setting(key, old[0])
                self.ok("stats")

    def test_not_an_rk_database(self):
        idx = self.path("foreign")
        os.makedirs(idx)
        conn = sqlite3.connect(os.path.join(idx, "rk.db"))
        conn.execute("CREATE TABLE t(x)")
        conn.commit()
        conn.close()
        r = self.rk("stats", index=idx)
        self.assertError(r, 2)
        self.assertNoStdout(r)

    def test_garbage_database_file(self):
        idx = self.path("garbage")
        self.write(os.path.join(idx, "rk.db"), b"this is not a database at all\n" * 100)
        for args in (["stats"], ["ingest", self.path("a.txt")]):
            with self.subTest(args=args):
                r = self.rk(*args, index=idx)
                self.assertError(r, 2)
                self.assertNoStdout(r)

    def test_missing_index_for_readers(self):
        for args in (["stats"], ["ls"], ["get", "x"], ["index", "verify"], ["rm", "x"]):
            with self.subTest(args=args):
                r = self.rk(*args, index=self.path("nowhere"))
                errors = self.assertError(r, 2, mentions=["nowhere"])
                self.assertEqual(len(errors), 1, r)
                self.assertNoStdout(r)
        self.assertFalse(os.path.exists(self.path("nowhere", "rk.db")))

    def test_verify_healthy(self):
        r = self.ok("index", "verify")
        self.assertNoStdout(r)

    def test_verify_detects_damage(self):
        # A document whose chunks are gone is a problem verify must report (exit 1).
        conn = sqlite3.connect(os.path.join(self.index, "rk.db"))
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute("DELETE FROM chunks")
        conn.commit()
        conn.close()
        r = self.rk("index", "verify")
        self.assertEqual(r.code, 1, r)

    def _sql(self, *statements):
        conn = sqlite3.connect(os.path.join(self.index, "rk.db"))
        for st in statements:
            conn.execute(st)
        conn.commit()
        conn.close()

    def test_verify_detects_damaged_postings_and_rebuild_repairs(self):
        self.ok("ingest", self.write("b.txt", "delta epsilon alpha\n"))
        cases = {
            "missing": "DELETE FROM lex_postings WHERE term = 'alpha'",
            "extra": "INSERT INTO lex_postings(seg, term, df, data) "
                     "SELECT seg, 'zzz', df, data FROM lex_postings LIMIT 1",
            "wrong counts": "UPDATE lex_stats SET value = value + 7 WHERE key = 'length'",
            "garbage": "UPDATE lex_postings SET data = x'ffffffffffffffffffffff' "
                       "WHERE term = 'beta'",
        }
        for name, damage in cases.items():
            with self.subTest(damage=name):
                self._sql(damage)
                r = self.rk("index", "verify")
                self.assertEqual(r.code, 1, r)
                self.assertIn("lexical postings", r.out)
                self.ok("index", "rebuild")
                self.ok("index", "verify")
                self.assertEqual(self.ok("query", "--format", "tsv", "alpha").out.count("\n"), 2)

    def test_garbage_postings_are_a_clear_query_error(self):
        before = self.ok("query", "--format", "tsv", "alpha").out
        self._sql("UPDATE lex_postings SET data = x'ff' WHERE term = 'alpha'")
        # The posting files still hold the rows as they were written: queries read them, and
        # verify finds the damage in rk.db.
        self.assertEqual(self.ok("query", "--format", "tsv", "alpha").out, before)
        r = self.rk("index", "verify")
        self.assertEqual(r.code, 1, r)
        self.assertIn("postings of 'alpha'", r.out + r.err)
        # Without them, the query reads the rows and says what is wrong.
        shutil.rmtree(os.path.join(self.index, "postings"))
        r = self.rk("query", "alpha")
        self.assertError(r, 2, mentions=["posting", "rk index rebuild"])
        self.assertNoStdout(r)

    def test_upgrade_from_schema_1(self):
        # Make this index what rk 0.1's first schema wrote: no postings, no chunk lengths.
        self.ok("ingest", self.write("b.txt", "delta epsilon alpha\n"))
        self._sql("DROP TABLE vectors", "DROP TABLE vec_df", "DROP TABLE vec_state",
                  "DELETE FROM settings WHERE key = 'dimension'",
                  "DROP TABLE lex_postings", "DROP TABLE lex_segments", "DROP TABLE lex_dead",
                  "DROP TABLE lex_stats", "DROP TABLE lex_blocks", "DROP TABLE lex_dead_df",
                  "ALTER TABLE chunks DROP COLUMN lex_len",
                  "PRAGMA user_version = 1")
        r = self.ok("query", "--mode", "bm25", "--format", "tsv", "alpha")
        self.assertEqual(r.out.count("\n"), 2, r)
        self.assertEqual(self.stats()["schema_version"], 6)
        self.ok("index", "verify")

    def test_upgrade_from_schema_2(self):
        # What rk wrote before vectors: no vector tables, no dimension, no vectors.hnsw.
        self.ok("ingest", self.write("b.txt", "delta epsilon alpha\n"))
        self._sql("DROP TABLE vectors", "DROP TABLE vec_df", "DROP TABLE vec_state",
                  "DELETE FROM settings WHERE key = 'dimension'", "PRAGMA user_version = 2")
        os.remove(os.path.join(self.index, "vectors.hnsw"))
        r = self.ok("query", "--mode", "vector", "--format", "tsv", "alpha epsilon")
        self.assertEqual(r.out.count("\n"), 2, r)
        stats = self.stats()
        self.assertEqual(stats["schema_version"], 6)
        self.assertEqual(stats["vectors"]["count"], stats["chunks"])
        self.ok("index", "verify")

    def test_upgrade_from_schema_3(self):
        # What rk wrote before codes: 4096 int8 components and a scale a vector, and a graph
        # file of format 1.
        self.ok("ingest", self.write("b.txt", "delta epsilon alpha\n"))
        self._sql("UPDATE vectors SET data = zeroblob(4100)",
                  "UPDATE settings SET value = '4096' WHERE key = 'dimension'",
                  "PRAGMA user_version = 3")
        with open(os.path.join(self.index, "vectors.hnsw"), "wb") as f:
            f.write(b"rk-hnsw\n" + (1).to_bytes(4, "little") + bytes(200))
        r = self.ok("query", "--mode", "vector", "--vector-search", "hnsw", "--format", "tsv",
                    "alpha epsilon")
        self.assertEqual(r.out.count("\n"), 2, r)
        self.assertIn("unknown format 1", r.err)
        stats = self.stats()
        self.assertEqual(stats["schema_version"], 6)
        self.assertEqual((stats["vectors"]["count"], stats["vectors"]["dimension"]),
                         (stats["chunks"], 4096))
        sizes = self.db().execute("SELECT DISTINCT length(data) FROM vectors").fetchall()
        self.assertEqual(sizes, [(516,)])
        self.assertNotIn("note", self.ok("index", "verify").err)


    def test_upgrade_from_schema_5(self):
        # Schema 5 stored posting blocks as varints, which this rk cannot read: the upgrade
        # writes every list again from the chunks' text, and the posting files follow.
        self.ok("ingest", self.write("b.txt", "delta epsilon alpha\n"))
        before = self.ok("query", "--mode", "bm25", "--format", "tsv", "alpha epsilon").out
        self._sql("UPDATE lex_postings SET data = x'0a0b0c'", "DELETE FROM lex_blocks",
                  "PRAGMA user_version = 5")
        r = self.ok("query", "--mode", "bm25", "--format", "tsv", "alpha epsilon")
        self.assertEqual(r.out, before)
        self.assertEqual(self.stats()["schema_version"], 6)
        self.assertNotIn("note", self.ok("index", "verify").err)


class WriterLock(RkTestCase):
    """One writer at a time; readers go on. The lock is held from Python with flock(2)."""

    def setUp(self):
        super().setUp()
        self.a = self.write("a.txt", "the first document\n")
        self.b = self.write("b.txt", "the second document\n")
        self.ok("ingest", self.a)

    def hold_lock(self):
        path = os.path.join(self.index, "lock")
        self.assertTrue(os.path.exists(path), "no lock file in the index directory")
        fd = os.open(path, os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX)
        held = [True]

        def release():
            if held[0]:
                held[0] = False
                os.close(fd)

        self.addCleanup(release)
        return release

    def test_second_writer_fails_readers_succeed(self):
        release = self.hold_lock()
        argv = [self.RK, "--index", self.index]
        # Both writers wait for the lock at the same time, to keep the test short.
        writers = {
            "ingest": subprocess.Popen(argv + ["ingest", self.b], stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, env=self.env, cwd=self.work,
                                       stdin=subprocess.DEVNULL),
            "rm": subprocess.Popen(argv + ["rm", self.a], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, env=self.env, cwd=self.work,
                                   stdin=subprocess.DEVNULL),
        }
        # Readers, while the writers wait and the lock is held.
        self.assertEqual(self.stats()["documents"], 1)
        self.assertEqual(self.ids(), [self.a])
        self.assertEqual(self.ok("get", self.a).out, "the first document\n")
        self.ok("index", "verify")
        for name, p in writers.items():
            out, err = p.communicate(timeout=120)
            with self.subTest(writer=name):
                err = err.decode()
                self.assertEqual(p.returncode, 2, err)
                self.assertEqual(out, b"")
                errors = [line for line in err.splitlines() if line.startswith("rk: error:")]
                self.assertTrue(errors, err)
                self.assertIn("another", errors[-1].lower(), err)
        # Nothing changed.
        self.assertEqual(self.ids(), [self.a])
        # Released: writers work again.
        release()
        self.ok("ingest", self.b)
        self.ok("rm", self.a)
        self.assertEqual(self.ids(), [self.b])

    def test_dry_run_respects_the_lock(self):
        self.hold_lock()
        r = self.rk("ingest", "--dry-run", self.b)
        self.assertError(r, 2)
        self.assertNoStdout(r)

    def test_stale_lock_file_does_not_block(self):
        # The lock is the flock, not the file's existence or its content: a pid left in it
        # by a dead writer does not keep the next one out.
        with open(os.path.join(self.index, "lock"), "w") as f:
            f.write("999999\n")
        self.ok("ingest", self.b)
        self.assertEqual(self.ids(), sorted([self.a, self.b]))


class ReadersDuringRealWriter(RkTestCase):
    """Readers run while a real `rk ingest` holds the lock and writes."""

    def test_readers_while_ingesting(self):
        rnd = random.Random(7)
        words = [f"w{i}" for i in range(3000)]
        lines = []
        for i in range(8000):
            lines.append('{"_id": "r%05d", "text": "%s"}\n'
                         % (i, " ".join(rnd.choices(words, k=rnd.randint(100, 200)))))
        src = self.write("big.jsonl", "".join(lines))
        self.ok("ingest", self.write("first.txt", "already here\n"))
        lock = os.path.join(self.index, "lock")
        p = subprocess.Popen([self.RK, "--index", self.index, "-q", "ingest", src],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env,
                             cwd=self.work, stdin=subprocess.DEVNULL)
        try:
            # The writer writes its pid into the lock file once it holds the lock.
            while p.poll() is None:
                with open(lock) as f:
                    if f.read().strip() == str(p.pid):
                        break
                time.sleep(0.005)
            seen = []
            for _ in range(3):
                st = self.stats()
                seen.append(st["documents"])
                self.assertIn(self.path("first.txt"), self.ids("*first.txt"))
                self.assertEqual(self.ok("get", self.path("first.txt")).out, "already here\n")
            self.assertEqual(seen, sorted(seen), "document count went backwards")
        finally:
            out, err = p.communicate(timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, err.decode())
        self.assertEqual(self.stats()["documents"], 8001)
        self.ok("index", "verify")


if __name__ == "__main__":
    unittest.main()
