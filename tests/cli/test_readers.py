"""Format readers (text, Markdown, JSON, JSONL, BEIR), skipped inputs, and chunking."""

import gzip
import html
import io
import json
import random
import re
import subprocess
import unittest
import zipfile
import zlib

from rkcli import RkTestCase, word_boundary_ok


def make_pdf(pages, title=None, compress=False):
    """A PDF of `pages`, each a list of paragraphs, each a list of lines (Helvetica 12); with
    `compress`, each page's content stream is deflated (/FlateDecode), as most PDFs are."""
    objs = []
    def add(body):
        objs.append(body)
        return len(objs)
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    pages_id = add(None)
    kids = []
    for paras in pages:
        ops = [b"BT /F1 12 Tf 72 720 Td"]
        for pi, lines in enumerate(paras):
            if pi:
                ops.append(b"0 -40 Td")
            for li, line in enumerate(lines):
                if li:
                    ops.append(b"0 -14 Td")
                esc = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
                ops.append(b"(" + esc.encode("latin-1") + b") Tj")
        ops.append(b"ET")
        stream = b"\n".join(ops)
        flate = b""
        if compress:
            stream = zlib.compress(stream)
            flate = b" /Filter /FlateDecode"
        content = add(b"<< /Length %d%s >>\nstream\n" % (len(stream), flate) + stream
                      + b"\nendstream")
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                        b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (pages_id, content, font)))
    objs[pages_id - 1] = (b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids)
                          + b"] /Count %d >>" % len(kids))
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    info = add(b"<< /Title (" + title.encode("latin-1") + b") >>") if title else None
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    trailer = b"<< /Size %d /Root %d 0 R" % (len(objs) + 1, catalog)
    if info:
        trailer += b" /Info %d 0 R" % info
    out += b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def make_docx(paragraphs, title=None):
    """A DOCX of (style, text) paragraphs (style "" for body text, "Heading1", "Title"...)."""
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    body = []
    for style, text in paragraphs:
        ppr = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
        runs = "".join(f"<w:r><w:t xml:space=\"preserve\">{html.escape(part)}</w:t></w:r>"
                       + ("<w:r><w:tab/></w:r>" if i + 1 < len(text.split("\t")) else "")
                       for i, part in enumerate(text.split("\t")))
        body.append(f"<w:p>{ppr}{runs}</w:p>")
    # A field code and deleted text: not the document's words.
    body.append('<w:p><w:r><w:instrText>HYPERLINK fieldcodeword</w:instrText></w:r>'
                '<w:del><w:r><w:delText>deletedword</w:delText></w:r></w:del></w:p>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.'
                   'openxmlformats.org/package/2006/content-types"/>')
        z.writestr("word/document.xml", f'<?xml version="1.0" encoding="UTF-8"?><w:document {w}>'
                   f'<w:body>{"".join(body)}</w:body></w:document>')
        if title:
            z.writestr("docProps/core.xml", '<?xml version="1.0"?><cp:coreProperties '
                       'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
                       'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">'
                       f"<dc:title>{html.escape(title)}</dc:title><dc:creator>Ann Author"
                       "</dc:creator></cp:coreProperties>")
    return out.getvalue()


def make_epub(chapters, title):
    """An EPUB of (file name, XHTML body) chapters, in that reading order."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("mimetype", "application/epub+zip")  # first, stored, as EPUB requires
        z.writestr("META-INF/container.xml", '<?xml version="1.0"?><container version="1.0" '
                   'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
                   '<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-'
                   'package+xml"/></rootfiles></container>')
        items = "".join(f'<item id="c{i}" href="{name}" media-type="application/xhtml+xml"/>'
                        for i, (name, _) in enumerate(chapters))
        # The spine, not the manifest, gives the reading order.
        spine = "".join(f'<itemref idref="c{i}"/>' for i in reversed(range(len(chapters))))
        z.writestr("OEBPS/content.opf", '<?xml version="1.0"?><package xmlns="http://www.idpf.'
                   'org/2007/opf" version="3.0"><metadata xmlns:dc="http://purl.org/dc/elements/'
                   f'1.1/"><dc:title>{title}</dc:title><dc:language>en</dc:language></metadata>'
                   f"<manifest>{items}</manifest><spine>{spine}</spine></package>",
                   compress_type=zipfile.ZIP_DEFLATED)
        for name, body in chapters:
            z.writestr("OEBPS/" + name.replace("%20", " "),
                       '<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><head>'
                       f"<title>t</title></head><body>{body}</body></html>",
                       compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


class Readers(RkTestCase):

    def test_plain_text_title_is_file_name(self):
        p = self.write("notes/todo list.txt", "# not a heading in plain text\n\nbuy milk\n")
        self.ingest_json(p)
        doc = self.get_json(p)
        self.assertEqual(doc["title"], "todo list.txt")
        self.assertEqual(doc["text"], "# not a heading in plain text\n\nbuy milk\n")
        self.assertEqual(doc["source"], p)
        self.assertEqual(doc["id"], p)
        self.assertEqual(self.ok("get", p).out, "# not a heading in plain text\n\nbuy milk\n")

    def test_markdown_front_matter_title(self):
        p = self.write("guide.md", "---\ntitle: \"The Guide\"\nauthor: me\n---\n"
                                   "# Guide\n\nWelcome.\n\n## Install\n\nRun make.\n")
        self.ingest_json(p)
        doc = self.get_json(p)
        self.assertEqual(doc["title"], "The Guide")

    def test_markdown_first_heading_title(self):
        p = self.write("guide.md", "Some intro before any heading.\n\n"
                                   "# Getting Started\n\ntext\n\n# Second\n\nmore\n")
        self.ingest_json(p)
        self.assertEqual(self.get_json(p)["title"], "Getting Started")

    def test_markdown_setext_heading_title(self):
        p = self.write("s.md", "Setext Title\n============\n\nbody text\n\nSub\n---\n\nmore\n")
        self.ingest_json(p)
        doc = self.get_json(p)
        self.assertEqual(doc["title"], "Setext Title")
        self.assertIn("Setext Title > Sub", [c["heading"] for c in doc["chunk_list"]])

    def test_markdown_heading_paths(self):
        p = self.write("guide.md", "# Guide\n\nIntro paragraph.\n\n"
                                   "## Install\n\nRun the installer.\n\n"
                                   "### Linux\n\nUse the package.\n\n"
                                   "## Usage\n\nCall it.\n\n"
                                   "# Appendix\n\nThe end.\n")
        self.ingest_json(p)
        doc = self.get_json(p)
        headings = [c["heading"] for c in doc["chunk_list"]]
        self.assertEqual(headings, ["Guide", "Guide > Install", "Guide > Install > Linux",
                                    "Guide > Usage", "Appendix"])
        text = doc["text"].encode()
        for c in doc["chunk_list"]:
            piece = text[c["start"]:c["end"]].decode()
            self.assertIn(c["heading"].split(" > ")[-1], piece.splitlines()[0])

    def test_markdown_code_fence_is_not_a_heading(self):
        p = self.write("code.md", "# Real\n\n```sh\n# not a heading\necho hi\n```\n\nafter\n")
        self.ingest_json(p)
        doc = self.get_json(p)
        self.assertEqual({c["heading"] for c in doc["chunk_list"]}, {"Real"})

    def test_html_page_reads_as_a_browser_shows_it(self):
        page = ("<!DOCTYPE html><html lang='en'><head><title>Albatross &amp; Co</title>"
                "<meta name='description' content='Sea birds'>"
                "<script>var trackingpixel = 1;</script><style>.x{}</style></head><body>"
                "<nav><a href='/'>homelink</a></nav>"
                "<h1>Birds</h1><p>The <b>albatross</b> glides &mdash; for hours.</p>"
                "<h2>Wings</h2><p>Long&nbsp;wings.</p></body></html>")
        p = self.write("site/birds.html", page)
        self.ingest_json(p)
        doc = self.get_json(p)
        self.assertEqual(doc["title"], "Albatross & Co")
        self.assertEqual(doc["text"], "Birds\n\nThe albatross glides \u2014 for hours.\n\n"
                                      "Wings\n\nLong wings.")
        self.assertEqual(doc["meta"], {"lang": "en", "description": "Sea birds"})
        # Chunks never run across a heading, as in Markdown.
        self.assertEqual([c["heading"] for c in doc["chunk_list"]], ["Birds", "Birds > Wings"])
        hits = self.ok("query", "--mode", "bm25", "--format", "json", "albatross").json()
        self.assertEqual(hits["results"][0]["snippet"].count("<"), 0)
        self.assertIn("albatross", hits["results"][0]["snippet"])
        for hidden in ("trackingpixel", "homelink"):
            self.assertEqual(self.rk("query", "--mode", "bm25", hidden).code, 1, hidden)

    def test_html_by_content_and_from_stdin(self):
        page = "<!doctype html><title>Saved page</title><p>gannets dive</p>"
        p = self.write("saved-page", page)
        self.ingest_json(p)
        self.assertEqual(self.get_json(p)["title"], "Saved page")
        self.assertEqual(self.get_json(p)["text"], "gannets dive")
        r = self.ok("ingest", "--json", "-", stdin="<html><body><p>puffins nest</p></body></html>")
        self.assertEqual(r.json()["added"], 1)
        hits = self.ok("query", "--mode", "bm25", "--format", "json", "puffins").json()
        self.assertEqual(hits["results"][0]["snippet"], "puffins nest")

    def test_html_without_text_is_skipped(self):
        p = self.write("empty.html", "<html><head><script>x()</script></head><body> </body></html>")
        summary = self.ingest_json(p)
        self.assertEqual(summary["skipped"], 1)
        r = self.rk("ingest", p)
        self.assertIn("no text (read as html), skipped", r.err)

    def test_pdf_pages_in_reading_order(self):
        data = make_pdf([[["The albatross glides", "over the southern ocean."]],
                         [["Page two talks of petrels."]],
                         [],
                         [["Page four: (parenthesised) skuas."]]], title="Sea Birds")
        p = self.write("birds.pdf", data)
        s = self.ingest_json(p)
        self.assertEqual((s["added"], s["failed"]), (1, 0))
        doc = self.get_json(p)
        self.assertEqual(doc["title"], "Sea Birds")
        self.assertEqual(doc["text"], "The albatross glides\nover the southern ocean.\n\n"
                                      "Page two talks of petrels.\n\n"
                                      "Page four: (parenthesised) skuas.")
        # Each chunk says its page; chunks never run across pages.
        self.assertEqual([c["heading"] for c in doc["chunk_list"]], ["page 1", "page 2", "page 4"])
        self.assertEqual(self.get_json(p + "#1")["text"], "Page two talks of petrels.")
        r = self.ok("query", "--mode", "bm25", "--format", "json", "petrels").json()
        self.assertEqual((r["results"][0]["id"], r["results"][0]["heading"]), (p, "page 2"))
        # By content too, from any name and from standard input; no title: the first line.
        q = self.write("manual", make_pdf([[["Untitled manual", "of fulmars"]]]))
        self.ingest_json(q)
        self.assertEqual(self.get_json(q)["title"], "Untitled manual")
        r = self.ok("ingest", "--json", "-", stdin=make_pdf([[["gannets from a pipe"]]]))
        self.assertEqual(r.json()["added"], 1)
        self.assertEqual(self.rk("query", "--mode", "bm25", "gannets").code, 0)

    def test_encrypted_or_broken_pdf_fails_alone(self):
        good = self.write("good.pdf", make_pdf([[["readable shearwaters"]]]))
        self.write("plain.pdf", make_pdf([[["secret terns"]]]))
        subprocess.run(["qpdf", "--encrypt", "user", "owner", "256", "--",
                        self.path("plain.pdf"), self.path("locked.pdf")], check=True)
        locked = self.path("locked.pdf")
        cut = self.write("cut.pdf", make_pdf([[["cut petrels"]]])[:200])
        junk = self.write("junk.pdf", b"%PDF-1.4 nothing else")
        r = self.rk("ingest", "--json", good, locked, cut, junk)
        self.assertEqual(r.code, 2, r)
        self.assertEqual((r.json()["added"], r.json()["failed"]), (1, 3))
        self.assertIn("locked.pdf: an encrypted PDF that needs a password", r.err)
        self.assertIn("cut.pdf: not a readable PDF", r.err)
        self.assertIn("junk.pdf: not a readable PDF", r.err)
        self.assertNotIn("Syntax Error", r.err)  # poppler's own messages stay quiet
        self.assertEqual(self.ids(), [good])

    def test_gzip_files_are_read_through(self):
        md = self.write("notes.md.gz", gzip.compress(b"# Gz Title\n\ncompressed kittiwakes\n"))
        jl = self.write("recs.jsonl.gz", gzip.compress(
            b'{"_id": "g1", "text": "razorbills"}\n{"_id": "g2", "text": "guillemots"}\n'))
        js = self.write("arr.json.GZ", gzip.compress(b'[{"_id": "j1", "text": "json puffins"}]'))
        # Members joined with cat are read one after the other, as gunzip reads them.
        two = self.write("two.txt.gz", gzip.compress(b"first part ") + gzip.compress(b"second"))
        fake = self.write("fake.txt.gz", b"not gzip at all")
        cut = self.write("cut.txt.gz", gzip.compress(b"plain words " * 100)[:30])
        r = self.rk("ingest", "--json", md, jl, js, two, fake, cut)
        self.assertEqual(r.code, 2, r)
        self.assertEqual((r.json()["added"], r.json()["failed"]), (5, 2))
        self.assertIn("fake.txt.gz: named .gz, but not gzip data", r.err)
        self.assertIn("cut.txt.gz: truncated gzip data", r.err)
        doc = self.get_json(md)
        self.assertEqual(doc["title"], "Gz Title")  # read as Markdown, by the inner name
        self.assertEqual(doc["text"], "# Gz Title\n\ncompressed kittiwakes\n")
        self.assertEqual(self.get_json("g2")["text"], "guillemots")
        self.assertEqual(self.get_json("j1")["text"], "json puffins")
        self.assertEqual(self.get_json(two)["text"], "first part second")

    def test_man_pages_read_as_a_terminal_shows_them(self):
        page = (".\\\" generated page\n"
                ".ie n .ds Aq '\n.el .ds Aq \\(aq\n"
                ".TH SKUA 8 2026-01-01 \"skua 1.0\"\n"
                ".SH NAME\nskua \\- chase gulls\n"
                ".SH SYNOPSIS\n.B skua\n.RI [ options ] \" \" file\n"
                ".SH OPTIONS\n.TP\n.BR \\-f \", \" \\-\\-fast\n"
                "Chase \\fIfaster\\fP: it\\*(Aqs a \\(lqkleptoparasite\\(rq.\n")
        roff = self.write("man/skua.8", page)
        gz = self.write("man/jaeger.1.gz", gzip.compress(
            b".TH JAEGER 1\n.SH NAME\njaeger \\- pursue terns\n.SH DESCRIPTION\n"
            b"Long \\fBtail\\fR streamers.\n"))
        # A name ending in a digit that holds no requests is not a man page.
        log = self.write("man/app.log.1", "started at noon\n.TH is not a request here\n")
        self.ingest_json(roff, gz, log)
        doc = self.get_json(roff)
        self.assertEqual(doc["title"], "skua - chase gulls")
        self.assertEqual(doc["meta"], {"section": "8"})
        self.assertEqual(doc["text"],
                         "NAME\n\nskua - chase gulls\n\nSYNOPSIS\n\nskua [options] file\n\n"
                         "OPTIONS\n\n-f, --fast\n"
                         "Chase faster: it's a \u201ckleptoparasite\u201d.")
        self.assertEqual([c["heading"] for c in doc["chunk_list"]],
                         ["NAME", "SYNOPSIS", "OPTIONS"])
        self.assertEqual(self.get_json(gz)["title"], "jaeger - pursue terns")
        self.assertEqual(self.get_json(log)["text"], "started at noon\n.TH is not a request here\n")
        hits = self.ok("query", "--mode", "bm25", "--format", "json", "kleptoparasite").json()
        snippet = hits["results"][0]["snippet"]
        self.assertIn("kleptoparasite", snippet)
        self.assertNotRegex(snippet, r"\\|^\.|\n\.")
        hits = self.ok("query", "--mode", "bm25", "--format", "json", "--where", "section=1",
                       "streamers").json()
        self.assertEqual([h["id"] for h in hits["results"]], [gz])

    def test_source_code_cut_at_definitions_and_found_by_identifier_parts(self):
        c = self.write("src/birds.c",
                       "#include <stdio.h>\n\n"
                       "/* Reads the albatross settings. */\n"
                       "static int parseConfig(const char *path)\n{\n"
                       "    return path != 0; /* } */\n}\n\n"
                       "int load_settings(void)\n{\n    return parseConfig(\"x\");\n}\n")
        py = self.write("src/tool.py",
                        "import os\n\n\n@cache\ndef fetchRemoteIndex(url):\n"
                        "    return url  # petrels\n\n\nclass HTTPServer:\n    pass\n")
        script = self.write("bin/deploy", "#!/bin/sh\nship() {\n  echo gannets\n}\n")
        self.ingest_json(c, py, script)
        doc = self.get_json(c)
        self.assertEqual(doc["meta"], {"language": "c"})
        with open(c, encoding="utf-8") as f:
            self.assertEqual(doc["text"], f.read())  # code is kept as it is
        self.assertEqual([ch["heading"] for ch in doc["chunk_list"]],
                         ["", "parseConfig", "load_settings"])
        self.assertEqual([ch["heading"] for ch in self.get_json(py)["chunk_list"]],
                         ["", "fetchRemoteIndex", "HTTPServer"])
        self.assertEqual(self.get_json(script)["meta"], {"language": "shell"})
        # Names are found by their parts, whichever way they are written.
        for query, hit, heading in [("config", c, "parseConfig"), ("parse_config", c, "parseConfig"),
                                    ("loadSettings", c, "load_settings"),
                                    ("remote index", py, "fetchRemoteIndex"),
                                    ("server", py, "HTTPServer")]:
            hits = self.ok("query", "--mode", "bm25", "--chunks", "--format", "json", query).json()
            self.assertEqual(hits["results"][0]["id"], hit, query)
            self.assertEqual(hits["results"][0]["heading"], heading, query)
        for word, path in [("albatross", c), ("petrels", py), ("gannets", script)]:
            hits = self.ok("query", "--mode", "bm25", "--format", "json", word).json()
            self.assertEqual([h["id"] for h in hits["results"]], [path], word)

    def test_docx_odt_and_epub_read_as_their_text(self):
        docx = self.write("docs/report.docx", make_docx(
            [("Title", "Seabird Report"), ("Heading1", "Colonies"),
             ("", "Puffins\tnest in burrows."), ("Heading2", "Counts"), ("", "Gannets dive.")],
            title="Seabird Report 2026"))
        # Chapters in spine order (the manifest lists them the other way round).
        epub = self.write("books/birds.epub", make_epub(
            [("one.xhtml", "<h1>Terns</h1><p>Arctic terns migrate.</p>"),
             ("two%20b.xhtml", "<h1>Skuas</h1><p>Skuas steal <b>fish</b>.</p>")],
            title="Sea Birds"))
        # ODT: content.xml with a heading, paragraphs, a space run and an annotation.
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as z:
            z.writestr("mimetype", "application/vnd.oasis.opendocument.text")
            t = 'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
            o = 'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
            z.writestr("content.xml", f'<?xml version="1.0"?><office:document-content {o} {t}>'
                       '<office:body><office:text><text:h text:outline-level="1">Petrels</text:h>'
                       '<text:p>Storm<text:s/>petrels walk on water.<office:annotation><text:p>'
                       'reviewernote</text:p></office:annotation></text:p></office:text>'
                       '</office:body></office:document-content>')
        odt = self.write("notes.odt", out.getvalue())
        broken = self.write("broken.docx", b"PK\x03\x04 not really a zip")
        r = self.rk("ingest", "--json", docx, epub, odt, broken)
        self.assertEqual(r.code, 2, r)
        self.assertEqual((r.json()["added"], r.json()["failed"]), (3, 1))
        self.assertIn("broken.docx: not a valid DOCX", r.err)
        d = self.get_json(docx)
        self.assertEqual(d["title"], "Seabird Report 2026")
        self.assertEqual(d["meta"], {"author": "Ann Author"})
        self.assertEqual(d["text"], "Seabird Report\n\nColonies\n\nPuffins nest in burrows."
                                    "\n\nCounts\n\nGannets dive.")
        self.assertEqual([c["heading"] for c in d["chunk_list"]],
                         ["Seabird Report", "Seabird Report > Colonies",
                          "Seabird Report > Colonies > Counts"])
        e = self.get_json(epub)
        self.assertEqual((e["title"], e["meta"]), ("Sea Birds", {"lang": "en"}))
        self.assertEqual(e["text"], "Skuas\n\nSkuas steal fish.\n\nTerns\n\nArctic terns migrate.")
        o = self.get_json(odt)
        self.assertEqual((o["title"], o["text"]), ("Petrels", "Petrels\n\nStorm petrels walk on water."))
        for gone in ("fieldcodeword", "deletedword", "reviewernote"):
            self.assertEqual(self.rk("query", "--mode", "bm25", gone).code, 1, gone)
        # By content too: an EPUB or ODT under a name that says nothing.
        self.write("incoming/upload", make_epub([("c.xhtml", "<p>Fulmars glide.</p>")], "Fulmars"))
        self.ingest_json(self.path("incoming/upload"))
        self.assertEqual(self.get_json(self.path("incoming/upload"))["title"], "Fulmars")

    def test_json_array_default_fields(self):
        p = self.write("docs.json", json.dumps([
            {"_id": "j1", "title": "First", "text": "first json record"},
            {"_id": "j2", "title": "Second", "text": "second json record", "extra": 5},
        ]))
        s = self.ingest_json(p)
        self.assertEqual(s["added"], 2)
        self.assertEqual(self.ids(), ["j1", "j2"])
        self.assertEqual(self.ok("get", "j1").out, "first json record\n")
        self.assertEqual(self.get_json("j2")["title"], "Second")

    def test_json_single_object(self):
        p = self.write("one.json", json.dumps({"_id": "only", "text": "just one"}))
        self.ingest_json(p)
        self.assertEqual(self.ok("get", "only").out, "just one\n")

    def test_jsonl_default_fields(self):
        p = self.write_jsonl("recs.jsonl", [
            {"_id": "a", "title": "Alpha", "text": "alpha text"},
            {"_id": 7, "title": "Seven", "text": "numeric id"},
        ])
        s = self.ingest_json(p)
        self.assertEqual(s["added"], 2)
        self.assertEqual(self.ids(), ["7", "a"])
        self.assertEqual(self.ok("get", "7").out, "numeric id\n")
        self.assertEqual(self.get_json("a")["title"], "Alpha")
        self.assertEqual(self.get_json("a")["source"], p)

    def test_ndjson_extension(self):
        p = self.write_jsonl("recs.ndjson", [{"_id": "n1", "text": "nd"}])
        self.ingest_json(p)
        self.assertEqual(self.ids(), ["n1"])

    def test_custom_fields(self):
        recs = [{"id": "c1", "name": "Custom One", "body": "custom body one", "_id": "ignored1"},
                {"id": "c2", "name": "Custom Two", "body": "custom body two", "_id": "ignored2"}]
        jl = self.write_jsonl("custom.jsonl", recs)
        js = self.write("custom.json", json.dumps(
            [{"id": "c3", "name": "Custom Three", "body": "custom body three"}]))
        flags = ["--id-field", "id", "--title-field", "name", "--text-field", "body"]
        s = self.ingest_json(jl, js, *flags)
        self.assertEqual(s["added"], 3)
        self.assertEqual(self.ids(), ["c1", "c2", "c3"])
        doc = self.get_json("c2")
        self.assertEqual(doc["title"], "Custom Two")
        self.assertEqual(doc["text"], "custom body two")
        self.assertEqual(self.ok("get", "c3").out, "custom body three\n")

    def test_beir_corpus(self):
        rnd = random.Random(3)
        words = "the of a wing flow pressure boundary layer heat transfer shock".split()
        recs = [{"_id": str(1000 + i), "title": f"paper {i}",
                 "text": " ".join(rnd.choices(words, k=rnd.randint(5, 120))),
                 "metadata": {"year": 1960 + i % 10}} for i in range(50)]
        corpus = self.write_jsonl("beir/corpus.jsonl", recs)
        self.write_jsonl("beir/queries.jsonl", [{"_id": "q1", "text": "wing flow"}])
        s = self.ingest_json(corpus)
        self.assertEqual(s["added"], 50)
        self.assertEqual(self.stats()["documents"], 50)
        for rec in recs[::9]:
            self.assertEqual(self.ok("get", rec["_id"]).out, rec["text"] + "\n")
            doc = self.get_json(rec["_id"])
            self.assertEqual(doc["title"], rec["title"])
            self.assertEqual(doc["text"], rec["text"])

    def test_binary_file_skipped(self):
        good = self.write("good.txt", "fine\n")
        binf = self.write("image.bin", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)))
        r = self.rk("ingest", "--json", good, binf, cwd=self.tmp)
        self.assertEqual(r.code, 0, r)
        s = r.json()
        self.assertEqual((s["added"], s["skipped"], s["failed"]), (1, 1, 0))
        self.assertIn("image.bin", r.err)
        self.assertIn("binary", r.err.lower())
        self.assertEqual(self.ids(), [good])

    def test_binary_file_in_directory_walk(self):
        self.write("d/a.txt", "text\n")
        self.write("d/b.dat", b"abc\0def")
        s = self.ingest_json("-r", self.path("d"))
        self.assertEqual((s["added"], s["skipped"]), (1, 1))

    def test_empty_files_skipped(self):
        e1 = self.write("empty.txt", "")
        e2 = self.write("blank.md", "  \n\n\t\n")
        s = self.ingest_json(e1, e2)
        self.assertEqual((s["added"], s["skipped"], s["failed"]), (0, 2, 0))
        self.assertEqual(self.stats()["documents"], 0)

    def test_invalid_utf8_repaired(self):
        raw = b"caf\xc3\xa9 ok then \xff\xfe broken \xc3 end\n"
        p = self.write("bad.txt", raw)
        r = self.rk("ingest", "--json", p)
        self.assertEqual(r.code, 0, r)
        warn = [line for line in r.err.splitlines() if "UTF-8" in line or "utf-8" in line]
        self.assertTrue(warn, r)
        self.assertIn("bad.txt", warn[0])
        self.assertRegex(warn[0], r"\b14\b", "the byte offset of the first bad byte")
        got = self.ok("get", p)
        text = got.out_bytes.decode("utf-8")  # strict: never raw invalid bytes
        self.assertIn("\ufffd", text)
        self.assertTrue(text.startswith("café ok then "))
        self.assertIn(" broken ", text)
        doc = self.get_json(p)
        self.assertIn("\ufffd", doc["text"])
        # In the database too.
        body = self.db().execute("SELECT CAST(body AS BLOB) FROM documents").fetchone()[0]
        body.decode("utf-8")
        for c in doc["chunk_list"]:
            self.ok("get", f"{p}#{c['seq']}").out_bytes.decode("utf-8")
        self.ok("index", "verify")

    def test_invalid_utf8_in_jsonl(self):
        p = self.write("r.jsonl", b'{"_id": "u1", "text": "bad \xff byte"}\n')
        r = self.rk("ingest", p, cwd=self.tmp)
        self.assertEqual(r.code, 0, r)
        self.assertIn("r.jsonl:1", r.err)
        self.assertIn("\ufffd", self.ok("get", "u1").out_bytes.decode("utf-8"))

    def test_utf16_and_utf32_with_a_byte_order_mark_are_decoded(self):
        text = "naïve 中文 text\n"
        files = {"le.txt": b"\xff\xfe" + text.encode("utf-16-le"),
                 "be.md": b"\xfe\xff" + ("# Titre\n\n" + text).encode("utf-16-be"),
                 "le32.txt": b"\xff\xfe\x00\x00" + text.encode("utf-32-le"),
                 "be32.txt": b"\x00\x00\xfe\xff" + text.encode("utf-32-be")}
        paths = [self.write(name, data) for name, data in files.items()]
        s = self.ingest_json(*paths)
        self.assertEqual((s["added"], s["skipped"], s["failed"]), (4, 0, 0))
        for p in paths:
            self.assertTrue(self.ok("get", p).out.endswith(text), p)
        self.assertEqual(self.get_json(self.path("be.md"))["title"], "Titre")
        # Cut inside a character: an error naming the encoding, never "binary".
        bad = self.write("cut.txt", b"\xff\xfe" + "ab".encode("utf-16-le") + b"\x00")
        r = self.rk("ingest", bad)
        self.assertEqual(r.code, 2, r)
        self.assertIn("not valid UTF-16LE at byte 4", r.err)
        self.assertNotIn("binary", r.err)

    def test_legacy_encodings_are_detected_or_named(self):
        latin = "Le café est très bon; Noël à la plage, garçon.\n"
        p = self.write("latin1.txt", latin.encode("latin-1"))
        r = self.ok("ingest", p)
        self.assertIn("latin1.txt: not UTF-8: decoded as ISO-8859-1 (detected", r.err)
        self.assertEqual(self.ok("get", p).out, latin)
        japanese = "日本語のテキストです。東京は大きな都市です。" * 3 + "\n"
        j = self.write("sjis.txt", japanese.encode("shift_jis"))
        self.assertIn("decoded as SHIFT_JIS", self.ok("ingest", j).err)
        self.assertEqual(self.ok("get", j).out, japanese)
        # Named: no guess, no note; a file not in the named encoding fails, naming it.
        cp = self.write("cp.txt", "smart “quotes” – dash\n".encode("cp1252"))
        r = self.ok("ingest", "--encoding", "cp1252", cp)
        self.assertNotIn("cp.txt", r.err)
        self.assertEqual(self.ok("get", cp).out, "smart “quotes” – dash\n")
        r = self.rk("ingest", "--encoding", "utf-8", p)
        self.assertEqual(r.code, 2, r)
        self.assertIn("latin1.txt: not valid utf-8 at byte 6", r.err)
        r = self.rk("ingest", "--encoding", "klingon", p)
        self.assertEqual(r.code, 2, r)
        self.assertIn("unknown text encoding 'klingon'", r.err)

    def test_bom_is_not_content(self):
        p = self.write("bom.txt", b"\xef\xbb\xbfhello bom\n")
        self.ingest_json(p)
        self.assertEqual(self.ok("get", p).out, "hello bom\n")


class Chunking(RkTestCase):
    """--chunk-size 16 --chunk-overlap 4; offsets are bytes of the UTF-8 text."""

    def setUp(self):
        super().setUp()
        self.init("--chunk-size", "16", "--chunk-overlap", "4")

    def check_chunks(self, doc, max_tokens=16):
        text = doc["text"].encode("utf-8")
        chunks = doc["chunk_list"]
        self.assertTrue(chunks)
        self.assertEqual([c["seq"] for c in chunks], list(range(len(chunks))))
        for c in chunks:
            self.assertTrue(word_boundary_ok(text, c["start"], c["end"]),
                            f"chunk {c} cuts a word: {text[max(0, c['start'] - 5):c['end'] + 5]!r}")
            words = text[c["start"]:c["end"]].split()
            self.assertLessEqual(len(words), max_tokens, c)
            self.assertEqual(c["tokens"], len(words), c)
        # Together the chunks cover every word of the text.
        covered = bytearray(len(text))
        for c in chunks:
            for i in range(c["start"], c["end"]):
                covered[i] = 1
        for m in re.finditer(rb"\S+", text):
            self.assertTrue(all(covered[m.start():m.end()]), f"word {m.group()!r} not covered")
        # And each chunk's text, fetched as ID#N, is exactly its byte range.
        for c in chunks[:3]:
            got = self.get_json(f"{doc['id']}#{c['seq']}")
            self.assertEqual(got["text"].encode("utf-8"), text[c["start"]:c["end"]])
        return chunks

    def test_long_paragraph_splits_on_word_boundaries(self):
        words = [f"wörd{i}" if i % 7 == 0 else f"w{i}" for i in range(100)]
        body = " ".join(words[:50]) + "\n" + "  ".join(words[50:]) + "\n"
        p = self.write("long.txt", body)
        self.ingest_json(p)
        doc = self.get_json(p)
        chunks = self.check_chunks(doc)
        self.assertGreaterEqual(len(chunks), 100 // 16 + 1)
        text = doc["text"].encode()
        for prev, nxt in zip(chunks, chunks[1:]):
            # Cut from one paragraph: consecutive chunks overlap by at most 4 words.
            self.assertLess(nxt["start"], prev["end"], (prev, nxt))
            shared = text[nxt["start"]:prev["end"]].split()
            self.assertLessEqual(len(shared), 4)
            self.assertGreaterEqual(len(shared), 1)

    def test_sentences_and_paragraphs(self):
        rnd = random.Random(11)
        vocab = ["alpha", "beta", "gamma.", "delta,", "épsilon", "zeta!", "eta?", "(theta)",
                 "iota;", "kappa:", "λ", "mu", "nu", "xi\u00a0xi"]
        paras = []
        for _ in range(12):
            paras.append(" ".join(rnd.choices(vocab, k=rnd.randint(1, 45))))
        body = "\n\n".join(paras) + "\n"
        p = self.write("prose.txt", body)
        self.ingest_json(p)
        self.check_chunks(self.get_json(p))

    def test_chunks_never_cross_a_heading(self):
        sections = []
        rnd = random.Random(5)
        for i, h in enumerate(["# Guide", "## Install", "## Usage", "### Deep", "# Other"]):
            paras = [" ".join(f"s{i}p{j}w{k}" for k in range(rnd.randint(2, 30)))
                     for j in range(rnd.randint(1, 3))]
            sections.append(h + "\n\n" + "\n\n".join(paras))
        body = "\n\n".join(sections) + "\n"
        p = self.write("guide.md", body)
        self.ingest_json(p)
        doc = self.get_json(p)
        chunks = self.check_chunks(doc)
        text = doc["text"].encode()
        expected_path = {"s0": "Guide", "s1": "Guide > Install", "s2": "Guide > Usage",
                         "s3": "Guide > Usage > Deep", "s4": "Other"}
        for c in chunks:
            piece = text[c["start"]:c["end"]].decode()
            # A heading line can only be the first line of a chunk.
            for line in piece.splitlines()[1:]:
                self.assertFalse(line.startswith("#"), f"chunk crosses a heading: {piece!r}")
            sections_in = {w.split("p")[0] for w in piece.split() if w.startswith("s")}
            if not sections_in:
                # A heading alone (its first paragraph did not fit with it).
                self.assertRegex(piece, r"^#+ \w+$")
                self.assertTrue(c["heading"].endswith(piece.split(" ", 1)[1]), c)
                continue
            self.assertEqual(len(sections_in), 1, f"chunk spans sections: {piece!r}")
            self.assertEqual(c["heading"], expected_path[sections_in.pop()], c)

    def test_small_documents_one_chunk(self):
        p = self.write("short.txt", "just a few words here\n")
        self.ingest_json(p)
        doc = self.get_json(p)
        self.assertEqual(len(doc["chunk_list"]), 1)
        self.check_chunks(doc)
        self.assertEqual(self.get_json(p)["chunks"], 1)

    def test_single_huge_word(self):
        p = self.write("huge.txt", "x" * 5000 + " tail\n")
        self.ingest_json(p)
        self.check_chunks(self.get_json(p))
        self.ok("index", "verify")


if __name__ == "__main__":
    unittest.main()
