"""Shared helpers for the rk CLI tests (imported by the test_*.py files; not a test itself).

Environment:
  RK_BIN       path of the rk binary under test (required)
  RK_DATASETS  BEIR-layout datasets (default: <repo>/../shared/datasets)

Every test gets its own temporary directory, with HOME and XDG_DATA_HOME pointing into it,
so nothing touches the real home; commands run through `self.rk(...)` get `--index` unless
told otherwise.
"""

import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import unittest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Generous: only there so that a hung rk fails the test instead of the whole run.
TIMEOUT = 300


def rk_bin():
    path = os.environ.get("RK_BIN", "")
    if not path:
        raise AssertionError(
            "RK_BIN is not set: point it at the rk binary, e.g. "
            "RK_BIN=build/release/apps/rk/rk python3 -m unittest discover -s tests/cli")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise AssertionError(f"RK_BIN={path!r} is not an executable file")
    return os.path.abspath(path)


def datasets_dir():
    d = os.environ.get("RK_DATASETS")
    if not d:
        d = os.path.join(REPO_ROOT, "..", "shared", "datasets")
    return os.path.abspath(d)


class Result:
    """What one rk run did: exit code, stdout and stderr (bytes and text)."""

    def __init__(self, args, proc_returncode, out, err):
        self.args = args
        self.code = proc_returncode
        self.out_bytes = out
        self.err_bytes = err
        self.out = out.decode("utf-8", errors="replace")
        self.err = err.decode("utf-8", errors="replace")

    def json(self):
        return json.loads(self.out)

    def jsonl(self):
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]

    def __repr__(self):
        args = " ".join(os.fsdecode(a) if isinstance(a, bytes) else a for a in self.args)
        return (f"rk {args} -> exit {self.code}\n"
                f"--- stdout ---\n{self.out[:3000]}\n--- stderr ---\n{self.err[:3000]}")


class RkTestCase(unittest.TestCase):
    maxDiff = 8000

    @classmethod
    def setUpClass(cls):
        cls.RK = rk_bin()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rk-cli-test-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.home = self.path("home")
        self.xdg = self.path("xdg-data")
        os.makedirs(self.home)
        os.makedirs(self.xdg)
        self.index = self.path("index")
        self.work = self.path("work")
        os.makedirs(self.work)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("RK_") and k not in ("XDG_DATA_HOME", "CLICOLOR_FORCE")}
        env.update(HOME=self.home, XDG_DATA_HOME=self.xdg, NO_COLOR="1", LC_ALL="C.UTF-8")
        self.env = env

    # --- files -----------------------------------------------------------------------------

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def write(self, rel, content, mode=None):
        """Writes a file under the temporary directory (str: UTF-8; bytes: as they are)."""
        p = rel if os.path.isabs(rel) else self.path(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        data = content.encode("utf-8") if isinstance(content, str) else content
        with open(p, "wb") as f:
            f.write(data)
        if mode is not None:
            os.chmod(p, mode)
        return p

    def write_jsonl(self, rel, records):
        return self.write(rel, "".join(json.dumps(r) + "\n" for r in records))

    # --- running rk --------------------------------------------------------------------------

    def rk(self, *args, index=True, stdin=None, cwd=None, env=None, timeout=TIMEOUT):
        """Runs rk; `index` True means --index self.index, a string that directory, None none."""
        argv = [self.RK]
        if index is True:
            argv += ["--index", self.index]
        elif index:
            argv += ["--index", index]
        # Bytes pass as they are: file names need not be UTF-8.
        argv += [a if isinstance(a, bytes) else str(a) for a in args]
        e = dict(self.env)
        if env:
            for k, v in env.items():
                if v is None:
                    e.pop(k, None)
                else:
                    e[k] = v
        if isinstance(stdin, str):
            stdin = stdin.encode("utf-8")
        p = subprocess.run(argv, input=stdin if stdin is not None else b"",
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           cwd=cwd or self.work, env=e, timeout=timeout)
        return Result(argv[1:], p.returncode, p.stdout, p.stderr)

    def ok(self, *args, **kw):
        """Runs rk and asserts exit 0."""
        r = self.rk(*args, **kw)
        self.assertEqual(r.code, 0, r)
        return r

    def ingest_json(self, *args, expect=0, **kw):
        """`rk ingest --json ARGS`, asserting the exit code; returns the summary object."""
        r = self.rk("ingest", "--json", *args, **kw)
        self.assertEqual(r.code, expect, r)
        try:
            return r.json()
        except ValueError:
            self.fail(f"ingest --json did not print one JSON object on stdout: {r!r}")

    def stats(self, **kw):
        return self.ok("stats", "--json", **kw).json()

    def ls(self, *args, **kw):
        return self.ok("ls", "--format", "jsonl", *args, **kw).jsonl()

    def ids(self, *args, **kw):
        return sorted(d["id"] for d in self.ls(*args, **kw))

    def get_json(self, key, **kw):
        return self.ok("get", key, "--format", "json", **kw).json()

    def init(self, *args, index=True, **kw):
        return self.ok("init", *args, index=index, **kw)

    # --- assertions --------------------------------------------------------------------------

    def assertError(self, r, code=2, mentions=()):
        """An error run: the exit code, a `rk: error:` line, and each string of `mentions`."""
        self.assertEqual(r.code, code, r)
        lines = r.err.splitlines()
        errors = [line for line in lines if line.startswith("rk: error:")]
        self.assertTrue(errors, f"no 'rk: error:' line on stderr: {r!r}")
        self.assertNotIn("\x1b", r.err, "colour escapes on a non-terminal stderr")
        for m in mentions:
            self.assertIn(m, "\n".join(errors), f"no error line mentions {m!r}: {r!r}")
        return errors

    def assertNoStdout(self, r):
        self.assertEqual(r.out_bytes, b"", f"unexpected stdout: {r!r}")

    # --- the database, read directly -----------------------------------------------------------

    def db(self, index=None):
        conn = sqlite3.connect(os.path.join(index or self.index, "rk.db"))
        self.addCleanup(conn.close)
        return conn


def word_boundary_ok(data, start, end):
    """True when byte range [start, end) of `data` (bytes) neither starts nor ends in a word."""
    ws = b" \t\n\r\f\v"
    if not (0 <= start < end <= len(data)):
        return False
    if data[start] in ws or data[end - 1] in ws:
        return False
    before_ok = start == 0 or data[start - 1] in ws
    after_ok = end == len(data) or data[end] in ws
    return before_ok and after_ok
