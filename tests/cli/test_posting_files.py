"""Posting files (postings/seg-N.rkp): copies of each segment's rows that queries map. They
must change speed only: the same answers with them, without them, with a damaged one, a
stale one, or one a killed writer left half done."""

import glob
import os
import signal
import struct

from rkcli import RkTestCase

TRAILER = struct.Struct("<8sIIQqqQQQQQ")  # magic, format, -, tag, seg, entries, terms, pages,
RECORD = struct.Struct("<QQQQqQIIII")    # table_at, sums; then per term: see segment_file.hpp
QUERIES = ("harpsichord", "sonata minor", "harpsichord fugue 17", "organ", "\"sonata in\"",
           "harp*")


class PostingFiles(RkTestCase):
    def setUp(self):
        super().setUp()
        # "harpsichord" in every document, so that its list has page rows (more than one
        # block of 128).
        docs = [{"_id": f"n{i}", "title": f"Note {i}",
                 "text": f"harpsichord sonata {i} in {'d minor' if i % 3 else 'a major'}"
                         + (" with organ" if i % 7 == 0 else "")}
                for i in range(400)]
        # Two ingests: two segments.
        self.ok("-q", "ingest", self.write_jsonl("a.jsonl", docs[:200]))
        self.ok("-q", "ingest", self.write_jsonl("b.jsonl", docs[200:]))

    def files(self):
        return sorted(glob.glob(os.path.join(self.index, "postings", "*")))

    def segments(self):
        return [row[0] for row in self.db().execute("SELECT seg FROM lex_segments ORDER BY seg")]

    def answers(self):
        """Every query's hits with their scores, as JSON gives them."""
        out = {}
        for q in QUERIES:
            r = self.rk("query", "--mode", "bm25", "-k", "50", "--format", "json", "--", q)
            self.assertIn(r.code, (0, 1), r)
            out[q] = [(h["id"], round(h["score"], 9)) for h in r.json()["results"]]
        return out

    def assertSameWithoutFiles(self):
        """The answers with the posting files are those from rk.db's rows alone."""
        with_files = self.answers()
        os.rename(os.path.join(self.index, "postings"), self.path("away"))
        try:
            self.assertEqual(self.answers(), with_files)
        finally:
            os.rename(self.path("away"), os.path.join(self.index, "postings"))
        return with_files

    def page_of(self, path, term):
        """The offset of a byte inside the first page row of `term`'s list in the file."""
        with open(path, "rb") as f:
            data = f.read()
        t = TRAILER.unpack_from(data, len(data) - 80)
        terms, pages, table_at = t[6], t[7], t[8]
        strings_at = table_at + 64 * terms + 8 * pages
        for i in range(terms):
            r = RECORD.unpack_from(data, table_at + 64 * i)
            term_at, data_at, data_bytes, term_bytes, head_bytes = r[0], r[1], r[2], r[6], r[7]
            name = data[strings_at + term_at:strings_at + term_at + term_bytes]
            if name == term and r[8] > 0:
                return data_at + head_bytes + (data_bytes - head_bytes) // 2
        return None

    def test_a_file_per_segment_and_the_same_answers_without_them(self):
        segments = self.segments()
        self.assertGreater(len(segments), 1)
        self.assertEqual([os.path.basename(f) for f in self.files()],
                         sorted(f"seg-{s}.rkp" for s in segments))
        with_files = self.assertSameWithoutFiles()
        self.assertTrue(with_files["harpsichord"])
        os.rename(os.path.join(self.index, "postings"), self.path("away"))
        # The next write copies them again; a merge removes the files of what it merged.
        self.ok("index", "optimize")
        self.assertEqual([os.path.basename(f) for f in self.files()],
                         [f"seg-{s}.rkp" for s in self.segments()])
        self.assertEqual(len(self.files()), 1)
        self.assertEqual(self.answers(), with_files)
        self.assertNotIn("note", self.ok("index", "verify").err)

    def test_a_damaged_page_is_found_said_and_read_from_rk_db(self):
        expected = self.answers()
        damaged = None
        for path in self.files():
            at = self.page_of(path, b"harpsichord")
            if at is None:
                continue
            with open(path, "r+b") as f:
                f.seek(at)
                b = f.read(1)
                f.seek(at)
                f.write(bytes([b[0] ^ 0x55]))
            damaged = path
            break
        self.assertIsNotNone(damaged)
        r = self.rk("index", "verify")
        self.assertEqual(r.code, 1, r)
        self.assertIn(os.path.basename(damaged), r.out + r.err)
        r = self.ok("query", "--mode", "bm25", "-k", "50", "--format", "json", "harpsichord")
        self.assertIn(os.path.basename(damaged), r.err)
        self.assertIn("checksum", r.err)
        self.assertEqual([(h["id"], round(h["score"], 9)) for h in r.json()["results"]],
                         expected["harpsichord"])
        # The reader removed it; the rest of the answers hold; the next write copies it again.
        self.assertFalse(os.path.exists(damaged))
        self.assertEqual(self.answers(), expected)
        self.ok("-q", "ingest", self.write_jsonl("one.jsonl", [{"_id": "x", "text": "lute"}]))
        self.assertTrue(os.path.exists(damaged) or len(self.files()) == len(self.segments()))
        self.assertNotIn("note", self.ok("index", "verify").err)

    def test_a_damaged_term_table_is_not_read(self):
        expected = self.answers()
        path = self.files()[0]
        with open(path, "r+b") as f:
            data = f.read()
            at = len(data) - 80 - 3  # in the strings, just before the trailer
            f.seek(at)
            f.write(bytes([data[at] ^ 0x20]))
        r = self.ok("query", "--mode", "bm25", "--format", "json", "harpsichord")
        self.assertIn(os.path.basename(path), r.err)
        self.assertEqual(self.answers(), expected)

    def test_a_file_of_another_index_or_segment_is_never_read(self):
        expected = self.answers()
        other = self.path("other")
        self.ok("-q", "ingest", self.write_jsonl("o.jsonl", [
            {"_id": f"o{i}", "text": f"harpsichord harpsichord organ {i}"} for i in range(300)]),
            index=other)
        theirs = sorted(glob.glob(os.path.join(other, "postings", "*")))[0]
        mine = self.files()[0]
        with open(theirs, "rb") as src, open(mine, "wb") as dst:
            dst.write(src.read())
        self.assertEqual(self.answers(), expected)
        r = self.ok("query", "--mode", "bm25", "harpsichord")
        self.assertNotIn("posting", r.err)
        # A cut-short file is not read either.
        with open(mine, "r+b") as f:
            f.truncate(100)
        self.assertEqual(self.answers(), expected)
        self.assertNotIn("note", self.ok("index", "verify").err)

    def test_a_writer_killed_before_the_rename_leaves_an_index_that_answers(self):
        expected = self.answers()
        more = self.write_jsonl("more.jsonl", [{"_id": f"m{i}", "text": f"harpsichord fugue {i}"}
                                               for i in range(200)])
        r = self.rk("ingest", more, env={"RK_TEST_KILL_AT": "posting-rename"})
        self.assertEqual(r.code, -signal.SIGKILL, r)
        self.assertTrue(glob.glob(os.path.join(self.index, "postings", "*.tmp-*")))
        self.assertNotIn("note", self.ok("index", "verify").err)
        got = self.assertSameWithoutFiles()
        self.assertIn("m17", [i for i, _ in got["harpsichord fugue 17"]])
        self.assertEqual([i for i, _ in got["organ"]], [i for i, _ in expected["organ"]])
        # The next write sweeps the temporary file and copies what is missing.
        self.ok("-q", "ingest", self.write_jsonl("one.jsonl", [{"_id": "x", "text": "lute"}]))
        self.assertFalse(glob.glob(os.path.join(self.index, "postings", "*.tmp-*")))
        self.assertEqual([os.path.basename(f) for f in self.files()],
                         sorted(f"seg-{s}.rkp" for s in self.segments()))
        self.assertSameWithoutFiles()
