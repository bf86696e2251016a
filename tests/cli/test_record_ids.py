"""rk ingest and record ids: one id met twice in a run (the later record replaces the earlier),
and records whose id is null or blank (named by their content hash, with a warning)."""

import json
import re

from rkcli import RkTestCase

# A record this far after another is read in a later round of work, so that the writer has
# already written the earlier one when the later one arrives (rounds start at 128 KiB).
FILLER_BYTES = 400 << 10


def filler(n_bytes):
    """Records of distinct ids and dull text, about n_bytes of JSONL in all."""
    out, size, i = [], 0, 0
    while size < n_bytes:
        r = {"_id": f"filler-{i}", "text": f"padding number {i} " * 50}
        out.append(r)
        size += len(json.dumps(r)) + 1
        i += 1
    return out


class DuplicateIds(RkTestCase):
    def warnings(self, r, what="duplicate id"):
        return [line for line in r.err.splitlines()
                if line.startswith("rk: warning:") and what in line]

    def found(self, text, mode="bm25"):
        """The ids a query finds ([] when none)."""
        r = self.rk("query", "--mode", mode, "--format", "jsonl", "-k", "5", text)
        self.assertIn(r.code, (0, 1), r)
        return [hit["id"] for hit in r.jsonl()]

    def chunk_ids(self, doc_id):
        return [row[0] for row in self.db().execute(
            "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc WHERE d.ext_id = ? "
            "ORDER BY c.seq", (doc_id,))]

    def vector_count(self, doc_id):
        return self.db().execute(
            "SELECT count(*) FROM vectors v JOIN chunks c ON c.id = v.chunk "
            "JOIN documents d ON d.id = c.doc WHERE d.ext_id = ?", (doc_id,)).fetchone()[0]

    def test_later_record_in_one_file_wins(self):
        dup = self.write_jsonl("dup.jsonl", [{"_id": "x", "text": "earlier zebra version"},
                                             {"_id": "x", "text": "later quokka version"},
                                             {"_id": "y", "text": "other"}])
        r = self.rk("ingest", "--json", dup)
        self.assertEqual(r.code, 0, r)
        s = r.json()
        self.assertEqual((s["added"], s["updated"], s["unchanged"], s["skipped"], s["chunks"]),
                         (2, 0, 0, 0, 2), s)
        warned = self.warnings(r)
        self.assertEqual(len(warned), 1, r)
        self.assertIn("'x'", warned[0])
        self.assertIn("dup.jsonl:1", warned[0])
        self.assertIn("dup.jsonl:2", warned[0])
        self.assertEqual(self.ok("get", "x").out, "later quokka version\n")
        self.assertEqual(self.stats()["documents"], 2)
        self.assertEqual(self.found("quokka"), ["x"])
        self.assertEqual(self.found("zebra"), [])
        self.ok("index", "verify")

    def test_rerun_changes_nothing(self):
        dup = self.write_jsonl("dup.jsonl", [{"_id": "x", "text": "earlier zebra version"},
                                             {"_id": "x", "text": "later quokka version"},
                                             {"_id": "y", "text": "other"}])
        self.ingest_json(dup)
        before, chunks = self.ls(), self.chunk_ids("x")
        s = self.ingest_json(dup)
        self.assertEqual((s["added"], s["updated"], s["unchanged"], s["skipped"], s["chunks"]),
                         (0, 0, 2, 0, 0), s)
        self.assertEqual(self.ls(), before)
        self.assertEqual(self.chunk_ids("x"), chunks, "the document was written again")
        self.assertEqual(self.ok("get", "x").out, "later quokka version\n")
        # A dry run has nothing to list either.
        self.assertEqual(self.ok("ingest", "-n", dup).out, "")

    def test_later_file_in_one_run_wins(self):
        a = self.write_jsonl("a.jsonl", [{"_id": "x", "text": "from file a zebra"}])
        b = self.write_jsonl("b.jsonl", [{"_id": "x", "text": "from file b quokka"}])
        r = self.rk("ingest", "--json", a, b)
        self.assertEqual(r.code, 0, r)
        self.assertEqual((r.json()["added"], r.json()["skipped"]), (1, 0), r)
        warned = self.warnings(r)
        self.assertEqual(len(warned), 1, r)
        self.assertIn("a.jsonl:1", warned[0])
        self.assertIn("b.jsonl:1", warned[0])
        doc = self.get_json("x")
        self.assertEqual(doc["text"], "from file b quokka")
        self.assertEqual(doc["source"], b)
        self.assertEqual(self.found("zebra"), [])
        self.assertEqual(self.found("quokka"), ["x"])

    def test_json_array_names_elements(self):
        arr = self.write("arr.json", json.dumps([{"_id": "x", "text": "zebra"},
                                                 {"_id": "x", "text": "quokka"}]))
        r = self.rk("ingest", arr)
        self.assertEqual(r.code, 0, r)
        warned = self.warnings(r)
        self.assertEqual(len(warned), 1, r)
        self.assertIn("arr.json[1]", warned[0])
        self.assertIn("arr.json[2]", warned[0])
        self.assertEqual(self.ok("get", "x").out, "quokka\n")

    def test_three_records_each_warned_last_wins(self):
        dup = self.write_jsonl("dup.jsonl", [{"_id": "x", "text": "one"},
                                             {"_id": "x", "text": "two"},
                                             {"_id": "x", "text": "three"}])
        r = self.rk("ingest", "--json", dup)
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.json()["added"], 1, r)
        self.assertEqual(len(self.warnings(r)), 2, r)
        self.assertEqual(self.ok("get", "x").out, "three\n")

    def test_changed_document_counts_one_update(self):
        self.ingest_json(self.write_jsonl("v0.jsonl", [{"_id": "x", "text": "original"}]))
        dup = self.write_jsonl("dup.jsonl", [{"_id": "x", "text": "first edit"},
                                             {"_id": "x", "text": "second edit"}])
        s = self.ingest_json(dup)
        self.assertEqual((s["added"], s["updated"], s["unchanged"], s["chunks"]), (0, 1, 0, 1), s)
        self.assertEqual(self.ok("get", "x").out, "second edit\n")

    def test_later_record_equal_to_stored_one(self):
        # The earlier record differs from what the index holds, the later one is what it holds:
        # the document ends as it was, and reads so.
        stored = {"_id": "x", "title": "Flow", "text": "supersonic boundary layer transition"}
        self.ingest_json(self.write_jsonl("v0.jsonl", [stored]))
        dup = self.write_jsonl("dup.jsonl", [{"_id": "x", "text": "tomato basil recipe"}, stored])
        s = self.ingest_json(dup)
        self.assertEqual((s["added"], s["updated"], s["unchanged"], s["chunks"]), (0, 0, 1, 0), s)
        self.assertEqual(self.ok("get", "x").out, stored["text"] + "\n")
        self.assertEqual(self.found("tomato"), [])
        self.assertEqual(self.found("boundary layer", mode="vector")[:1], ["x"])

    def check_later_record_equal_to_stored_one_far_apart(self, env=None):
        # As above, but far enough apart that the earlier record is written before the later
        # one arrives; the later one was not cut into chunks (it was unchanged), so the writer
        # must cut, count and embed it.
        stored = {"_id": "x", "title": "Flow", "text": "supersonic boundary layer transition"}
        self.ingest_json(self.write_jsonl("v0.jsonl", [stored]), env=env)
        pad = filler(FILLER_BYTES)
        big = self.write_jsonl("big.jsonl",
                               [{"_id": "x", "text": "tomato basil recipe"}] + pad + [stored])
        r = self.rk("ingest", "--json", big, env=env)
        self.assertEqual(r.code, 0, r)
        s = r.json()
        self.assertEqual((s["added"], s["updated"], s["unchanged"], s["chunks"]),
                         (len(pad), 0, 1, len(pad)), s)
        self.assertEqual(len(self.warnings(r)), 1, r)
        self.assertIn(f"big.jsonl:{len(pad) + 2}", self.warnings(r)[0])
        self.assertEqual(self.ok("get", "x").out, stored["text"] + "\n")
        self.assertEqual(self.found("tomato"), [])
        self.assertEqual(self.found("supersonic"), ["x"])
        self.assertEqual(self.found("boundary layer transition", mode="vector")[:1], ["x"])
        self.assertEqual(self.vector_count("x"), len(self.chunk_ids("x")))
        self.ok("index", "verify")
        s = self.ingest_json(big, env=env)
        self.assertEqual((s["added"], s["updated"], s["unchanged"]), (0, 0, len(pad) + 1), s)

    def test_later_record_equal_to_stored_one_far_apart(self):
        self.check_later_record_equal_to_stored_one_far_apart()

    def test_later_record_equal_to_stored_one_in_another_transaction(self):
        self.check_later_record_equal_to_stored_one_far_apart(env={"RK_TEST_COMMIT_BYTES": "1"})

    def test_file_after_record_with_its_id_keeps_its_structure(self):
        # A record claims a Markdown file's id, far ahead of the (unchanged) file in one run:
        # the file is cut again as Markdown, its headings kept.
        text = "# Guide\n\n## Install\n\ninstall words\n\n## Use\n\nuse words\n"
        md = self.write("c/b.md", text)
        self.ingest_json(md)
        headings = self.db().execute("SELECT heading FROM chunks ORDER BY id").fetchall()
        self.write_jsonl("c/a.jsonl", [{"_id": md, "text": "impostor"}] + filler(FILLER_BYTES))
        s = self.ingest_json("-r", self.path("c"))
        self.assertEqual((s["updated"], s["unchanged"]), (0, 1), s)
        self.assertEqual(self.ok("get", md).out, text)
        self.assertEqual(self.db().execute(
            "SELECT c.heading FROM chunks c JOIN documents d ON d.id = c.doc "
            "WHERE d.ext_id = ? ORDER BY c.seq", (md,)).fetchall(), headings)

    def test_dry_run_lists_and_counts_once(self):
        self.ingest_json(self.write_jsonl("v0.jsonl", [{"_id": "x", "text": "original"}]))
        dup = self.write_jsonl("dup.jsonl", [{"_id": "x", "text": "first edit"},
                                             {"_id": "x", "text": "second edit"},
                                             {"_id": "z", "text": "new"}])
        r = self.rk("ingest", "-n", "--json", dup)
        self.assertEqual(r.code, 0, r)
        listing, summary = r.out.splitlines()[:-1], json.loads(r.out.splitlines()[-1])
        self.assertEqual(listing, ["update\tx", "add\tz"])
        self.assertEqual((summary["added"], summary["updated"]), (1, 1), summary)
        self.assertEqual(self.ok("get", "x").out, "original\n")

    def test_prune_keeps_the_replaced_document(self):
        d = self.path("d")
        self.write_jsonl("d/a.jsonl", [{"_id": "x", "text": "from a"}, {"_id": "y", "text": "y"}])
        self.write_jsonl("d/b.jsonl", [{"_id": "x", "text": "from b"}])
        s = self.ingest_json("-r", "--prune", d)
        self.assertEqual((s["added"], s["pruned"]), (2, 0), s)
        s = self.ingest_json("-r", "--prune", d)
        self.assertEqual((s["unchanged"], s["pruned"]), (2, 0), s)
        self.assertEqual(self.ids(), ["x", "y"])
        self.assertEqual(self.ok("get", "x").out, "from b\n")


class BlankIds(RkTestCase):
    def test_null_empty_and_blank_ids_warn(self):
        recs = self.write("r.jsonl", "".join(json.dumps(r) + "\n" for r in [
            {"_id": "", "text": "empty id"},
            {"_id": None, "text": "null id"},
            {"_id": " \t", "text": "blank id"},
            {"text": "no id at all"},
        ]))
        r = self.rk("ingest", "--json", recs)
        self.assertEqual(r.code, 0, r)
        self.assertEqual(r.json()["added"], 4, r)
        warned = [line for line in r.err.splitlines() if line.startswith("rk: warning:")]
        self.assertEqual(len(warned), 3, r)
        for line_no, w in zip((1, 2, 3), warned):
            self.assertIn(f"r.jsonl:{line_no}:", w)
            self.assertIn("'_id'", w)
            self.assertIn("content hash", w)
        ids = self.ids()
        self.assertEqual(len(ids), 4)
        for i in ids:
            self.assertRegex(i, r"^[0-9a-f]{16}$")
        # Each warning names the id the record got.
        for w in warned:
            self.assertIn(re.search(r"[0-9a-f]{16}", w).group(0), ids)
        s = self.ingest_json(recs)
        self.assertEqual(s["unchanged"], 4, s)
        self.assertEqual(self.ids(), ids)

    def test_json_file_and_own_id_field(self):
        arr = self.write("arr.json", json.dumps([{"docno": None, "text": "a"},
                                                 {"docno": "d2", "text": "b"}]))
        r = self.rk("ingest", "--id-field", "docno", arr)
        self.assertEqual(r.code, 0, r)
        warned = [line for line in r.err.splitlines() if line.startswith("rk: warning:")]
        self.assertEqual(len(warned), 1, r)
        self.assertIn("arr.json[1]", warned[0])
        self.assertIn("'docno'", warned[0])
        self.assertIn("d2", self.ids())
