"""The progress bar: drawn on stderr when stderr is a terminal, never when it is piped,
never with -q, and never on stdout."""

import os
import pty
import subprocess
import unittest

from rkcli import RkTestCase


class ProgressTest(RkTestCase):
    def corpus(self):
        return self.write_jsonl("c.jsonl", [
            {"_id": str(i), "title": f"t{i}", "text": " ".join(f"w{j}" for j in range(200))}
            for i in range(300)])

    def run_on_tty(self, *args):
        """Runs rk with stderr on a pseudo-terminal and stdout on a pipe."""
        master, slave = pty.openpty()
        try:
            p = subprocess.Popen([self.RK, "--index", self.index, *args], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=slave, env=self.env, cwd=self.work)
            os.close(slave)
            slave = -1
            seen = b""
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the other side closed
                    break
                if not chunk:
                    break
                seen += chunk
            out = p.stdout.read()
            p.stdout.close()
            code = p.wait(timeout=300)
            return code, out, seen.decode("utf-8", "replace")
        finally:
            if slave >= 0:
                os.close(slave)
            os.close(master)

    def test_bar_on_a_terminal(self):
        code, out, err = self.run_on_tty("ingest", self.corpus())
        self.assertEqual(code, 0, err)
        self.assertIn("ingesting [", err)
        self.assertIn("added 300", err)
        self.assertEqual(out, b"")

    def test_no_bar_when_quiet(self):
        code, out, err = self.run_on_tty("-q", "ingest", self.corpus())
        self.assertEqual(code, 0, err)
        self.assertNotIn("ingesting [", err)
        self.assertNotIn("added", err)

    def test_no_bar_when_piped(self):
        r = self.ok("ingest", self.corpus())
        self.assertNotIn("ingesting [", r.err)
        self.assertNotIn("\r", r.err)
        self.assertIn("added 300", r.err)
        self.assertEqual(r.out, "")


if __name__ == "__main__":
    unittest.main()
