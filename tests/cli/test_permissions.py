"""Inputs rk may not read. chmod does not stop root, so when the tests run as root, rk is run
as the unprivileged user 65534 ("nobody") in a directory tree opened up for it."""

import os
import subprocess
import unittest

from rkcli import TIMEOUT, Result, RkTestCase

NOBODY = 65534


class Unreadable(RkTestCase):

    def setUp(self):
        super().setUp()
        self.as_root = os.geteuid() == 0
        # Everything rk touches lives under `area`, which the unprivileged user can write.
        self.area = self.path("area")
        os.makedirs(self.area)
        if self.as_root:
            os.chmod(self.tmp, 0o755)
            os.chmod(self.area, 0o777)
            os.chmod(self.home, 0o777)
        self.index = os.path.join(self.area, "index")
        self.d = os.path.join(self.area, "d")
        self.a = self.write(os.path.join(self.d, "a.txt"), "readable text\n")
        self.x = self.write(os.path.join(self.d, "locked", "x.txt"), "in a locked directory\n")
        self.secret = self.write(os.path.join(self.d, "secret.txt"), "a secret\n")
        if self.as_root:
            for root, dirs, files in os.walk(self.area):
                for n in dirs:
                    os.chmod(os.path.join(root, n), 0o777)
            # Give it back to root before cleanup can trip over files made by nobody.
            self.addCleanup(self._reown)
        probe = self.run_rk("--version")
        if probe.code != 0:
            self.skipTest(f"cannot run rk unprivileged: {probe!r}")

    def _reown(self):
        for root, dirs, files in os.walk(self.tmp):
            for n in dirs + files:
                try:
                    os.chmod(os.path.join(root, n), 0o777, follow_symlinks=False)
                except OSError:
                    pass

    def run_rk(self, *args):
        argv = [self.RK, "--index", self.index] + list(args)
        kw = {}
        if self.as_root:
            kw = dict(user=NOBODY, group=NOBODY, extra_groups=[])
        try:
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, cwd=self.area, env=self.env,
                               timeout=TIMEOUT, **kw)
        except (PermissionError, OSError) as e:
            self.skipTest(f"cannot switch to an unprivileged user: {e}")
        return Result(argv[1:], p.returncode, p.stdout, p.stderr)

    def test_unreadable_file_reported_rest_goes_on(self):
        os.chmod(self.secret, 0)
        r = self.run_rk("ingest", "--json", self.secret, self.a)
        self.assertError(r, 2, mentions=["secret.txt"])
        s = r.json()
        self.assertEqual((s["added"], s["failed"]), (1, 1))
        ids = [line.split("\t")[0] for line in
               self.run_rk("ls", "--format", "tsv").out.splitlines()]
        self.assertEqual(ids, [self.a])

    def test_unreadable_file_in_a_walk(self):
        os.chmod(self.secret, 0)
        r = self.run_rk("ingest", "--json", "-r", self.d)
        self.assertError(r, 2, mentions=["secret.txt"])
        self.assertEqual(r.json()["added"], 2)

    def test_unreadable_directory_in_a_walk(self):
        # Regression: an unreadable directory used to be skipped silently. It is reported
        # with its path, the rest of the walk goes on (a.txt and secret.txt), exit 2.
        locked = os.path.dirname(self.x)
        os.chmod(locked, 0)
        r = self.run_rk("ingest", "--json", "-r", self.d)
        self.assertError(r, 2, mentions=["locked"])
        self.assertEqual(r.json()["added"], 2)

    def test_prune_keeps_documents_of_an_unreadable_directory(self):
        # Regression: --prune used to treat a directory that is only unreadable for now as
        # gone and delete its documents. Only files that do not exist are pruned.
        s = self.run_rk("ingest", "--json", "-r", self.d)
        self.assertEqual(s.code, 0, s)
        self.assertEqual(s.json()["added"], 3)
        locked = os.path.dirname(self.x)
        os.chmod(locked, 0)
        r = self.run_rk("ingest", "--json", "-r", "--prune", self.d)
        self.assertEqual(r.json()["pruned"], 0, r)
        ids = [line.split("\t")[0] for line in
               self.run_rk("ls", "--format", "tsv").out.splitlines()]
        self.assertIn(self.x, ids)


if __name__ == "__main__":
    unittest.main()
