"""Disk and permission faults: a full disk or a file over the size limit during ingest, an index
in a directory rk may not write, a damaged page in rk.db. Each is a clear error naming the file
(exit 2), no document half written, and an index that still opens and verifies."""

import json
import os
import resource
import shutil
import signal
import subprocess
import unittest

from rkcli import TIMEOUT, Result, RkTestCase

NOBODY = 65534


def corpus_records(n):
    words = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron "
             "pi rho sigma tau upsilon phi chi psi omega").split()
    for i in range(n):
        text = " ".join(words[(i * 7 + j) % len(words)] for j in range(300))
        yield {"id": f"doc{i}", "title": f"record {i}", "text": f"{text} marker{i}"}


class DiskFaults(RkTestCase):

    def setUp(self):
        super().setUp()
        self.corpus = self.write_jsonl("corpus.jsonl", list(corpus_records(2000)))
        self.ok("init")

    def limited_rk(self, limit, *args):
        """rk with files limited to `limit` bytes: a write past it fails with EFBIG, as a full
        disk fails with ENOSPC (SIGXFSZ, which would kill it instead, is ignored)."""
        def limit_files():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        p = subprocess.run([self.RK, "--index", self.index] + list(args),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, cwd=self.work, env=self.env,
                           timeout=TIMEOUT, preexec_fn=limit_files)
        return Result(args, p.returncode, p.stdout, p.stderr)

    def documents(self):
        return json.loads(self.ok("stats", "--json").out)["documents"]

    def test_file_size_limit_during_ingest(self):
        r = self.limited_rk(1 << 20, "ingest", self.corpus)
        self.assertEqual(r.code, 2, r)
        self.assertEqual(len(r.err.strip().splitlines()), 1, r)
        self.assertIn("rk.db", r.err)
        self.assertIn("disk I/O error", r.err)
        # Nothing half written: what is there verifies, and every document has its chunks.
        self.ok("index", "verify")
        self.assertEqual(self.documents(), 0)
        # With room again, the same command completes the work.
        s = self.ingest_json(self.corpus)
        self.assertEqual(s["added"], 2000)
        self.ok("index", "verify")
        self.assertIn("record 1234", self.ok("query", "--format", "tsv", "marker1234").out)

    def test_full_file_system(self):
        mnt = self.path("small")
        os.makedirs(mnt)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt],
                           capture_output=True)
        if p.returncode != 0:
            self.skipTest(f"cannot mount a small tmpfs here: {p.stderr.decode().strip()}")
        self.addCleanup(subprocess.run, ["umount", "-l", mnt], capture_output=True)
        index = os.path.join(mnt, "index")
        self.ok("init", index=index)
        r = self.rk("ingest", self.corpus, index=index)
        self.assertEqual(r.code, 2, r)
        self.assertIn("rk.db", r.err)
        self.assertIn("full", r.err)
        self.ok("index", "verify", index=index)
        stats = json.loads(self.ok("stats", "--json", index=index).out)
        self.assertEqual(stats["documents"], 0)
        subprocess.run(["mount", "-o", "remount,size=256m", mnt], check=True)
        self.assertEqual(self.ingest_json(self.corpus, index=index)["added"], 2000)
        self.ok("index", "verify", index=index)

    def test_damaged_page_is_a_clear_error(self):
        self.ingest_json(self.corpus)
        db = os.path.join(self.index, "rk.db")
        size = os.path.getsize(db)
        page = 4096
        with open(db, "r+b") as f:
            # Pages in the middle of the file: B-tree pages of the tables rk reads.
            for at in range(size // 3 // page * page, size * 2 // 3 // page * page, 16 * page):
                f.seek(at)
                f.write(b"\xa5" * page)
        for args in (["index", "verify"], ["query", "--mode", "bm25", "marker1234 alpha"],
                     ["ls"]):
            r = self.rk(*args)
            self.assertIn(r.code, (0, 1, 2), r)  # never a crash
            if args[0] == "index":
                self.assertNotEqual(r.code, 0, r)
            if r.code == 1 and args[0] == "index":
                self.assertIn("problem:", r.out)
            if r.code == 2:
                lines = r.err.strip().splitlines()
                self.assertTrue(lines[-1].startswith("rk: error: "), r)
                self.assertIn("rk.db", lines[-1])


class ReadOnlyIndex(RkTestCase):
    """An index in a directory rk may not write: readers work, writers fail clearly. chmod
    does not stop root, so as root rk runs as "nobody"."""

    def setUp(self):
        super().setUp()
        self.as_root = os.geteuid() == 0
        self.write("docs/a.md", "# Alpha\n\nalpha words in a read-only index\n")
        self.write("docs/b.md", "# Beta\n\nbeta words\n")
        self.ok("ingest", "-r", self.path("docs"))
        os.chmod(self.tmp, 0o755)
        for root, dirs, files in os.walk(self.tmp):
            for n in dirs:
                os.chmod(os.path.join(root, n), 0o755)
            for n in files:
                os.chmod(os.path.join(root, n), 0o644)
        for n in os.listdir(self.index):
            os.chmod(os.path.join(self.index, n), 0o444)
        os.chmod(self.index, 0o555)
        self.addCleanup(os.chmod, self.index, 0o755)

    def run_rk(self, *args):
        argv = [self.RK, "--index", self.index] + list(args)
        kw = dict(user=NOBODY, group=NOBODY, extra_groups=[]) if self.as_root else {}
        try:
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, cwd="/", env=self.env,
                               timeout=TIMEOUT, **kw)
        except (PermissionError, OSError) as e:
            self.skipTest(f"cannot switch to an unprivileged user: {e}")
        return Result(argv[1:], p.returncode, p.stdout, p.stderr)

    def test_readers_work(self):
        for mode in ("bm25", "vector", "hybrid"):
            r = self.run_rk("query", "--mode", mode, "--format", "tsv", "alpha")
            self.assertEqual(r.code, 0, r)
            self.assertIn("a.md", r.out.splitlines()[0])
        ids = [line.split("\t")[0] for line in self.run_rk("ls", "--format", "tsv").out.splitlines()]
        self.assertEqual(len(ids), 2)
        for args in (["ls"], ["stats"], ["get", ids[0]]):
            r = self.run_rk(*args)
            self.assertEqual(r.code, 0, r)
        r = self.run_rk("index", "verify")
        self.assertEqual(r.code, 0, r)
        self.assertIn("not checked: full-text index", r.err)

    def test_writers_fail_naming_the_file(self):
        r = self.run_rk("ingest", "-r", self.path("docs"))
        self.assertEqual(r.code, 2, r)
        self.assertTrue(r.err.startswith("rk: error: "), r)
        self.assertIn(self.index, r.err)
        ids = [line.split("\t")[0] for line in self.run_rk("ls", "--format", "tsv").out.splitlines()]
        r = self.run_rk("rm", ids[0])
        self.assertEqual(r.code, 2, r)
        self.assertEqual(self.run_rk("ls").out.count("\n"), 2)


if __name__ == "__main__":
    unittest.main()
