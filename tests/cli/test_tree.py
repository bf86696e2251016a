"""One walk over a tree of everything engineers keep: every format read by its own reader,
ignored and unreadable entries named with their reason."""

import gzip
import os

import test_readers
from rkcli import RkTestCase


class MixedTree(RkTestCase):

    def setUp(self):
        super().setUp()
        t = self.tree = self.path("project")
        w = lambda rel, data: self.write(os.path.join(t, rel), data)
        w(".gitignore", "build/\n*.log\n")
        w("build/out.txt", "objectfilewombat\n")
        w("debug.log", "logfilewombat\n")
        w("README.md", "# Project Kestrel\n\nmarkdownwombat lives here.\n")
        w("site/index.html", "<!DOCTYPE html><html><head><title>Kestrel Site</title>"
                             "<script>scriptwombat()</script></head><body><h1>Welcome</h1>"
                             "<p>The <em>htmlwombat</em> &amp; friends.</p></body></html>")
        w("manual.pdf", test_readers.make_pdf([[["The pdfwombat burrows."]]],
                                              title="Kestrel Manual", compress=True))
        w("man/kestrel.1", ".TH KESTREL 1\n.SH NAME\nkestrel \\- hover over fields\n"
                           ".SH DESCRIPTION\n.B kestrel\nwatches for \\fIroffwombat\\fR.\n")
        w("man/hover.8.gz", gzip.compress(b".TH HOVER 8\n.SH NAME\nhover \\- stay in place\n"
                                          b".SH OPTIONS\n.TP\n.B \\-\\-gzwombat\nBeat wings.\n"))
        w("notes/utf16.txt", "\ufeffutf16wombat in UTF-16\n".encode("utf-16-le"))
        w("notes/latin1.txt", "latin1wombat caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00e0 la "
                              "cr\u00e8me br\u00fbl\u00e9e, d\u00e9j\u00e0 vu\n".encode("latin-1"))
        w("src/main.c", "/* C entry point. */\nint main(void)\n{\n    return cwombat();\n}\n")
        w("src/tool.py", "def fetchWombat(url):\n    return url  # pythonwombat\n")
        w("data.bin", b"\x00\x01binarywombat\x00")
        os.symlink("loop-b", os.path.join(t, "loop-a"))
        os.symlink("loop-a", os.path.join(t, "loop-b"))
        os.symlink("missing-target", os.path.join(t, "dangling"))
        os.symlink("src", os.path.join(t, "src-link"))  # a directory link: not followed

    def test_every_format_read_and_every_skip_named(self):
        r = self.rk("ingest", "--json", "-v", "-r", self.tree)
        self.assertEqual(r.code, 2, r)  # the broken links fail; everything else goes in
        summary = r.json()
        self.assertEqual((summary["added"], summary["skipped"], summary["failed"]), (9, 1, 3))
        err = r.err
        for name, reason in [("loop-a", "cannot follow symbolic link"),
                             ("loop-b", "cannot follow symbolic link"),
                             ("dangling", "dangling symbolic link"),
                             ("data.bin", "binary file skipped"),
                             ("build", "skipped by an ignore rule"),
                             ("debug.log", "skipped by an ignore rule")]:
            lines = [line for line in err.splitlines() if name in line]
            self.assertTrue(any(reason in line for line in lines), (name, reason, err))
        self.assertIn("not UTF-8: decoded as", err)  # the Latin-1 file, with a note

        found = {}
        for word in ("markdownwombat", "htmlwombat", "pdfwombat", "roffwombat", "gzwombat",
                     "utf16wombat", "latin1wombat", "cwombat", "pythonwombat"):
            hits = self.ok("query", "--mode", "bm25", "--format", "json", word).json()["results"]
            self.assertEqual(len(hits), 1, word)
            found[word] = hits[0]
            snippet = hits[0]["snippet"]
            self.assertNotRegex(snippet, r"<[a-z/]|\\f|^\.|&amp;|\x00", word)
        for word in ("objectfilewombat", "logfilewombat", "binarywombat", "scriptwombat"):
            self.assertEqual(self.rk("query", "--mode", "bm25", word).code, 1, word)
        titles = {w: h["title"] for w, h in found.items()}
        self.assertEqual(titles["markdownwombat"], "Project Kestrel")
        self.assertEqual(titles["htmlwombat"], "Kestrel Site")
        self.assertEqual(titles["pdfwombat"], "Kestrel Manual")
        self.assertEqual(titles["roffwombat"], "kestrel - hover over fields")
        self.assertEqual(titles["gzwombat"], "hover - stay in place")
        self.assertEqual(titles["cwombat"], "main.c")
        latin1 = self.get_json(found["latin1wombat"]["id"])["text"]
        self.assertIn("cr\u00e8me br\u00fbl\u00e9e", latin1)
        # The directory link was not followed: main.c is indexed once.
        ids = [line.split("\t")[0] for line in self.ok("ls", "--format", "tsv").out.splitlines()]
        self.assertEqual([i for i in ids if i.endswith("main.c")],
                         [os.path.join(self.tree, "src", "main.c")])
