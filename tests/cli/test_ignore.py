"""Ignore rules in directory walks: .gitignore (nested, negation, anchored, directory-only),
.git/info/exclude, the global excludes file, .ignore and .rkignore, --no-ignore; git itself
is the judge of what git's own rules ignore."""

import os
import subprocess

from rkcli import RkTestCase

TREE = {
    # path: text (every file holds a word found nowhere else: its stem)
    ".gitignore": "node_modules/\n*.log\n!keep.log\n/build\ndocs/**/draft-*.md\n",
    "readme.md": "# Readme\n",
    "notes/todo.txt": "todo\n",
    "notes/run.log": "run\n",
    "notes/keep.log": "keep\n",
    "build/out.txt": "out\n",
    "src/build/gen.txt": "gen\n",  # /build is anchored at the top
    "node_modules/pkg/index.js": "index\n",
    "docs/a/draft-one.md": "draft one\n",
    "docs/a/final.md": "final\n",
    "sub/.gitignore": "secret.md\n/local.md\n!important.log\n",
    "sub/secret.md": "secret\n",
    "sub/deeper/secret.md": "secret deeper\n",
    "sub/local.md": "local\n",
    "sub/deeper/local.md": "local deeper\n",
    "sub/important.log": "important\n",
    "sub/excluded.md": "excluded\n",  # by .git/info/exclude
    "sub/global.md": "global\n",  # by the global excludes file
    "weird [dir]*/x.md": "x\n",
    "weird [dir]*/y.md": "y\n",
}


class IgnoreRules(RkTestCase):
    def setUp(self):
        super().setUp()
        self.repo = os.path.join(self.work, "repo")
        for rel, text in TREE.items():
            self.write(os.path.join(self.repo, rel), text)
        xdg_config = self.path("xdg-config")
        self.write(os.path.join(xdg_config, "git", "ignore"), "global.md\n")
        self.env["XDG_CONFIG_HOME"] = xdg_config
        self.git("init", "-q")
        self.write(os.path.join(self.repo, ".git", "info", "exclude"), "excluded.md\n")

    def git(self, *args, cwd=None):
        return subprocess.run(["git", *args], cwd=cwd or self.repo, env=self.env, check=True,
                              capture_output=True, text=True).stdout

    def walked(self, *args, cwd=None):
        """The files `rk ingest --dry-run` would read, relative to the repository."""
        r = self.ok("ingest", "--dry-run", "-r", *args, cwd=cwd or self.repo)
        return sorted(os.path.relpath(line.split("\t", 1)[1], self.repo)
                      for line in r.out.splitlines())

    def git_keeps(self):
        """What git calls untracked and not ignored, less hidden files (rk skips those)."""
        listed = self.git("ls-files", "--others", "--exclude-standard").splitlines()
        return sorted(p for p in listed
                      if not any(part.startswith(".") for part in p.split("/")))

    def test_git_rules_as_git_applies_them(self):
        kept = self.walked(".")
        self.assertEqual(kept, self.git_keeps())
        for gone in ("notes/run.log", "build/out.txt", "node_modules/pkg/index.js",
                     "docs/a/draft-one.md", "sub/secret.md", "sub/deeper/secret.md",
                     "sub/local.md", "sub/excluded.md", "sub/global.md"):
            self.assertNotIn(gone, kept)
        for there in ("readme.md", "notes/keep.log", "src/build/gen.txt", "docs/a/final.md",
                      "sub/deeper/local.md", "sub/important.log", "weird [dir]*/x.md"):
            self.assertIn(there, kept)

    def test_no_ignore_walks_everything(self):
        kept = self.walked(".", "--no-ignore")
        self.assertEqual(len(kept), len([p for p in TREE if not p.startswith(".")
                                         and "/." not in p]))

    def test_a_subdirectory_keeps_the_repository_rules(self):
        kept = self.walked("sub")
        self.assertEqual(kept, sorted(p for p in self.git_keeps() if p.startswith("sub/")))
        # And from inside it, with a relative path.
        sub = os.path.join(self.repo, "sub")
        self.assertEqual(self.walked(".", cwd=sub), kept)

    def test_ignore_and_rkignore_take_precedence(self):
        self.write(os.path.join(self.repo, ".ignore"), "!run.log\nreadme.md\n")
        self.write(os.path.join(self.repo, "sub", ".rkignore"), "deeper/\n!secret.md\n")
        self.write(os.path.join(self.repo, "sub", ".ignore"), "important.log\n")
        self.write(os.path.join(self.repo, "weird [dir]*", ".ignore"), "/x.md\n")
        kept = self.walked(".")
        self.assertIn("notes/run.log", kept)  # .ignore takes back what .gitignore ignores
        self.assertNotIn("readme.md", kept)
        self.assertNotIn("sub/deeper/local.md", kept)  # a directory pattern in .rkignore
        self.assertIn("sub/secret.md", kept)  # .rkignore over .gitignore
        self.assertNotIn("sub/important.log", kept)  # .ignore over .gitignore
        # An anchored pattern in a directory whose name holds glob characters.
        self.assertNotIn("weird [dir]*/x.md", kept)
        self.assertIn("weird [dir]*/y.md", kept)
        # The top's .ignore applies to a walk of a subdirectory too.
        self.write(os.path.join(self.repo, ".ignore"), "final.md\n")
        self.assertNotIn("docs/a/final.md", self.walked("docs"))

    def test_each_directory_keeps_its_ancestors_rules_only(self):
        # Siblings with rules of their own: leaving one drops its rules and keeps the top's.
        self.write(os.path.join(self.repo, ".rkignore"), "*.skip\n")
        for d in ("p", "q", "r", "s"):
            self.write(os.path.join(self.repo, d, ".ignore"), f"only-{d}.md\n")
            for name in ("a.skip", "only-p.md", "only-q.md", "kept.md"):
                self.write(os.path.join(self.repo, d, "deep", name), name)
                self.write(os.path.join(self.repo, d, name), name)
        kept = [p for p in self.walked(".") if p[0] in "pqrs" and p[1] == "/"]
        expected = []
        for d in ("p", "q", "r", "s"):
            for sub in ("", "deep/"):
                expected += [f"{d}/{sub}{n}" for n in ("kept.md", "only-p.md", "only-q.md")
                             if n != f"only-{d}.md"]
        self.assertEqual(kept, sorted(expected))

    def test_outside_a_repository(self):
        plain = os.path.join(self.work, "plain")
        self.write(os.path.join(plain, ".gitignore"), "*.tmp\n")
        self.write(os.path.join(plain, ".rkignore"), "private/\n")
        for rel in ("a.md", "b.tmp", "private/c.md", "d/private/e.md", "d/f.md"):
            self.write(os.path.join(plain, rel), rel + "\n")
        r = self.ok("ingest", "--dry-run", "-r", ".", cwd=plain)
        kept = sorted(os.path.relpath(line.split("\t", 1)[1], plain)
                      for line in r.out.splitlines())
        self.assertEqual(kept, ["a.md", "d/f.md"])

    def test_files_named_outright_are_read(self):
        log = os.path.join(self.repo, "notes", "run.log")
        r = self.ok("ingest", "--dry-run", log)
        self.assertIn(log, r.out)

    def test_an_ignored_directory_named_outright_is_walked(self):
        self.write(os.path.join(self.repo, "build", "inner", ".gitignore"), "*.tmp\n")
        self.write(os.path.join(self.repo, "build", "inner", "x.tmp"), "x\n")
        self.write(os.path.join(self.repo, "build", "inner", "y.txt"), "y\n")
        self.assertEqual(self.walked("build"), ["build/inner/y.txt", "build/out.txt"])

    def test_verbose_says_what_was_skipped_and_why(self):
        r = self.ok("ingest", "--dry-run", "-r", ".", cwd=self.repo)
        self.assertNotIn("ignore rule", r.err)
        r = self.ok("-v", "ingest", "--dry-run", "-r", ".", cwd=self.repo)
        self.assertIn("node_modules: skipped by an ignore rule", r.err)
        self.assertIn("run.log: skipped by an ignore rule", r.err)
        # A pruned directory is named once, not file by file.
        self.assertNotIn("index.js", r.err)

    def test_a_broken_repository_still_honours_gitignore(self):
        plain = os.path.join(self.work, "broken")
        self.write(os.path.join(plain, ".git"), "gitdir: /nonexistent/place\n")
        self.write(os.path.join(plain, ".gitignore"), "*.tmp\n")
        self.write(os.path.join(plain, "a.md"), "a\n")
        self.write(os.path.join(plain, "b.tmp"), "b\n")
        r = self.ok("ingest", "--dry-run", "-r", ".", cwd=plain)
        self.assertEqual([os.path.basename(line.split("\t", 1)[1]) for line in r.out.splitlines()],
                         ["a.md"])

    def test_ingest_and_prune_follow_the_rules(self):
        self.ok("-q", "ingest", "-r", ".", cwd=self.repo)
        ids = self.ids()
        self.assertFalse([i for i in ids if "node_modules" in i or i.endswith("run.log")])
        # A rule added later: the files it now ignores still exist, and --prune keeps their
        # documents (as it keeps those --exclude leaves out); a removed file's goes.
        self.write(os.path.join(self.repo, ".rkignore"), "notes/\n")
        os.remove(os.path.join(self.repo, "readme.md"))
        r = self.ok("ingest", "-r", "--prune", "--json", ".", cwd=self.repo)
        self.assertEqual(r.json()["pruned"], 1)
        self.assertEqual(len([i for i in self.ids() if "/notes/" in i]), 2)
        self.assertFalse([i for i in self.ids() if i.endswith("readme.md")])
