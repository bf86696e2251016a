"""Configuration files: the user's config.toml and the index's, under the command line."""

import os

from rkcli import RkTestCase


class Config(RkTestCase):
    def setUp(self):
        super().setUp()
        docs = [{"_id": f"d{i}", "title": f"doc {i}", "text": f"common words and token{i}"}
                for i in range(5)]
        self.ok("-q", "ingest", self.write_jsonl("c.jsonl", docs))
        self.user = os.path.join(self.home, ".config", "rk", "config.toml")

    def query(self, *args, **kw):
        r = self.rk("query", "common", *args, **kw)
        self.assertEqual(r.code, 0, r)
        return r

    def test_user_file_sets_defaults_and_flags_win(self):
        self.write(self.user, '[query]\nk = 2\nformat = "tsv"\n')
        self.assertEqual(len(self.query().out.splitlines()), 2)
        self.assertEqual(len(self.query("-k", "4").out.splitlines()), 4)
        self.assertTrue(self.query("--format", "json").out.startswith("{"))

    def test_xdg_config_home(self):
        xdg = self.path("xdg-config")
        self.write(os.path.join(xdg, "rk", "config.toml"), '[query]\nk = 1\nformat = "tsv"\n')
        self.write(self.user, '[query]\nk = 3\nformat = "tsv"\n')
        r = self.query(env={"XDG_CONFIG_HOME": xdg})
        self.assertEqual(len(r.out.splitlines()), 1)

    def test_index_file_wins_over_the_user_file(self):
        self.write(self.user, '[query]\nk = 2\nformat = "tsv"\n')
        self.write(os.path.join(self.index, "config.toml"), "[query]\nk = 3\n")
        r = self.query()
        self.assertEqual(len(r.out.splitlines()), 3)
        self.assertIn("\t", r.out)  # format still from the user's file

    def test_rk_config_names_the_file_or_turns_it_off(self):
        self.write(self.user, '[query]\nk = 2\nformat = "tsv"\n')
        other = self.write("other.toml", '[query]\nk = 1\nformat = "tsv"\n')
        self.assertEqual(len(self.query(env={"RK_CONFIG": other}).out.splitlines()), 1)
        r = self.query(env={"RK_CONFIG": ""})
        self.assertIn(" 1. ", r.out)  # the built-in text format

    def test_global_options_and_lists(self):
        self.write(self.user, 'color = "always"\n[ingest]\ninclude = ["*.md", "*.txt"]\n')
        self.write("tree/a.md", "# A\n\nalpha\n")
        self.write("tree/b.txt", "bravo\n")
        self.write("tree/c.log", "charlie\n")
        s = self.ingest_json("-r", self.path("tree"))
        self.assertEqual(s["added"], 2)
        r = self.query()
        self.assertIn("\x1b[", r.out)
        self.assertNotIn("\x1b[", self.query("--color", "never").out)

    def test_mistakes_are_errors_naming_file_and_key(self):
        cases = [('[query]\nfromat = "json"\n', "query.fromat"),
                 ('[qeury]\nk = 1\n', "qeury"),
                 ('[query]\nmode = "fancy"\n', "query.mode"),
                 ('[query\n', "config.toml:1:"),
                 ('index = "/elsewhere"\n', "index"),
                 ('[query]\nk = {a = 1}\n', "query.k"),
                 ('quiet = "yes"\n', "quiet: expected true or false"),
                 ('[query]\nexplain = "no"\n', "query.explain")]
        for text, where in cases:
            with self.subTest(text=text):
                self.write(self.user, text)
                self.assertError(self.rk("query", "common"), 2, mentions=[where])
        # A value checked only when the command runs is still refused with its place.
        self.write(self.user, '[eval]\nmetrics = "bleu@4"\n')
        qrels = self.write("q.tsv", "q1\td1\t1\n")
        run = self.write("r.trec", "q1 Q0 d1 1 1.0 x\n")
        self.assertError(self.rk("eval", "--qrels", qrels, "--run", run),
                         mentions=["config.toml: eval.metrics", "bleu"])
        # Flags take booleans, and -v a count.
        self.write(self.user, "quiet = true\nverbose = 1\n")
        self.query()
