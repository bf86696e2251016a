"""The command line itself: help, version, usage errors and suggestions."""

from rkcli import RkTestCase


class CommandLine(RkTestCase):
    def test_version(self):
        r = self.ok("--version", index=None)
        self.assertRegex(r.out, r"^rk \d+\.\d+\.\d+\n$")

    def test_help_lists_commands(self):
        r = self.ok("--help", index=None)
        for cmd in ("init", "ingest", "query", "get", "ls", "rm", "stats", "index", "eval",
                    "bench"):
            self.assertRegex(r.out, rf"\n\s+{cmd}\s", cmd)
        self.assertIn("Examples:", r.out)

    def test_mistyped_command_suggests_the_nearest(self):
        r = self.rk("ingets", "file.txt")
        self.assertError(r, 2, mentions=["'ingets'", "did you mean 'ingest'"])
        self.assertEqual(len(r.err.splitlines()), 1, r.err)
        r = self.rk("qeury", "x")
        self.assertError(r, 2, mentions=["did you mean 'query'"])

    def test_unknown_command_without_a_near_one(self):
        r = self.rk("frobnicate")
        self.assertError(r, 2, mentions=["unknown command 'frobnicate'"])
        self.assertNotIn("did you mean", r.err)

    def test_bad_flag_is_one_line(self):
        r = self.rk("ingest", "--bogus")
        self.assertError(r, 2, mentions=["--bogus"])
        self.assertEqual(len(r.err.splitlines()), 1, r.err)

    def test_no_command(self):
        self.assertError(self.rk(index=None), 2)


class Completions(RkTestCase):
    def test_prints_the_installed_scripts(self):
        import os
        from rkcli import REPO_ROOT
        for shell, name in (("bash", "rk.bash"), ("zsh", "_rk"), ("fish", "rk.fish")):
            with open(os.path.join(REPO_ROOT, "completions", name), "rb") as f:
                self.assertEqual(self.ok("completions", shell, index=None).out_bytes, f.read(),
                                 shell)

    def test_unknown_shell(self):
        self.assertError(self.rk("completions", "tcsh", index=None), 2, mentions=["tcsh"])
