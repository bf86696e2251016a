"""Ids in every output format come back exactly: whatever bytes a file name or record id holds
(spaces, tabs, newlines, backslashes, bytes that are not UTF-8, '#', a leading '-'), the form
rk prints is taken back by rk get, rk rm and rk eval (rk-query(1), IDS IN MACHINE FORMATS)."""

import json
import os
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request

from rkcli import RkTestCase

# Each document's text; its heading is its title, so that nothing but its name differs
# between the odd names and the plain ones. No two are of a length, so that no two tie for a
# query (a tie is broken by the order of ingest, which follows the names): each ends in a
# padding of its own length.
BODIES = [
    "# Retry policy\n\nExponential backoff doubles the wait between retry attempts.\n",
    "# Backoff jitter\n\nJitter spreads retry storms; backoff with full jitter.\n",
    "# Cache eviction\n\nLeast recently used eviction keeps the cache small.\n",
    "# Cache warming\n\nWarm the cache before the traffic arrives; eviction comes later.\n",
    "# Timeouts\n\nA timeout bounds each attempt; retry after the timeout.\n",
    "# Circuit breaker\n\nThe breaker opens after failures and stops retry loops.\n",
    "# Rate limits\n\nA token bucket limits the rate; backoff when limited.\n",
    "# Logging\n\nStructured logging records each retry and each eviction.\n",
    "# Queues\n\nA dead letter queue keeps messages after the last retry.\n",
    "# Hashing\n\nConsistent hashing spreads cache keys over nodes.\n",
    "# Metrics\n\nCount timeouts, retries and cache hits as metrics.\n",
    "# Tracing\n\nA trace follows one request through retry and backoff.\n",
]
TEXTS = [body + " ".join(["note"] * (3 * i + 1)) + "\n" for i, body in enumerate(BODIES)]

# File names holding what line formats split at, what JSON cannot carry, what rk get reads
# specially, and one ("a\\x41.md", with a backslash) whose unescaped reading is another file.
ODD = [
    b"My Notes/alpha one.md",
    b"tab\there.md",
    b"new\nline.md",
    b"caf\xe9.md",
    b"back\\slash.md",
    b"hash#1.md",
    b"-dash.md",
    b"a\\x41.md",
    b"aA.md",
    b"\xff\xfe bytes.md",
    b"carriage\r.md",
    b'quote"`tick`.md',
]

QUERIES = ["retry backoff", "cache eviction", "timeout retry", "jitter", "hashing cache nodes"]

# Judgements by document number: query number -> {document: grade}.
JUDGED = {
    1: {0: 2, 1: 1, 11: 1},
    2: {2: 2, 3: 1, 7: 1},
    3: {4: 2, 0: 1, 10: 1},
    4: {1: 2},
    5: {9: 2, 2: 1},
}


def escape(raw, space=False):
    """The documented rule: \\\\, \\t, \\n, \\r; \\xHH for other control bytes and bytes that
    are not UTF-8; in TREC also for space."""
    out = []
    i = 0
    while i < len(raw):
        c = raw[i]
        if c < 0x80:
            if c == 0x5C:
                out.append("\\\\")
            elif c in (9, 10, 13):
                out.append({9: "\\t", 10: "\\n", 13: "\\r"}[c])
            elif c < 0x20 or c == 0x7F or (space and c == 0x20):
                out.append("\\x%02x" % c)
            else:
                out.append(chr(c))
            i += 1
            continue
        for n in (4, 3, 2):
            try:
                out.append(raw[i:i + n].decode("utf-8"))
                i += n
                break
            except UnicodeDecodeError:
                pass
        else:
            out.append("\\x%02x" % c)
            i += 1
    return "".join(out)


def json_id(obj):
    """The id a JSON object gives, as bytes to pass back to rk (escaped when flagged so)."""
    return obj["id"].encode("utf-8")


class OddNames(RkTestCase):
    def make_corpus(self, folder, names):
        root = os.fsencode(self.path(folder))
        paths = []
        for name, text in zip(names, TEXTS):
            p = os.path.join(root, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(text.encode())
            paths.append(p)
        return paths

    def test_trec_runs_over_odd_names_score_as_over_plain_names(self):
        plain = self.make_corpus("plain", [b"p%02d.md" % i for i in range(len(TEXTS))])
        odd = self.make_corpus("odd", ODD)
        queries = self.write("queries.txt", "\n".join(QUERIES) + "\n")
        results = {}
        for label, paths in (("plain", plain), ("odd", odd)):
            index = self.path("index-" + label)
            self.ok("-q", "ingest", "-r", self.path(label), index=index)
            run = self.ok("query", "--batch", queries, "--format", "trec", "-k", "20",
                          index=index).out_bytes
            for line in run.splitlines():
                self.assertEqual(len(line.split()), 6, line)
            run_file = self.write(f"{label}.trec", run)
            # TREC judgements name documents as rk prints them; BEIR's TSV holds them raw
            # (split at tabs, so spaces and any bytes but tab and newline may stay).
            trec = "".join(f"{q} 0 {escape(paths[d], space=True)} {g}\n"
                           for q, docs in JUDGED.items() for d, g in docs.items())
            tsv = b"query-id\tcorpus-id\tscore\n" + b"".join(
                b"%d\t%s\t%d\n" % (q, paths[d], g) for q, docs in JUDGED.items()
                for d, g in docs.items() if not re.search(rb"[\t\n\r]", ODD[d]))
            for kind, content in (("trec", trec), ("tsv", tsv)):
                qrels = self.write(f"{label}-qrels.{kind}", content)
                r = self.ok("eval", "--qrels", qrels, "--run", run_file, "--per-query",
                            "--format", "json", index=None)
                results[label, kind] = r.json()
        self.assertEqual(results["odd", "trec"], results["plain", "trec"])
        self.assertEqual(results["odd", "tsv"], results["plain", "tsv"])
        self.assertGreater(results["odd", "trec"]["metrics"]["nDCG@10"], 0.5)
        # Chunk runs name each document once, by its best chunk, and score as document runs.
        chunk_run = self.ok("query", "--batch", queries, "--format", "trec", "-k", "20",
                            "--chunks", index=self.path("index-odd")).out_bytes
        lines = [line.split() for line in chunk_run.splitlines()]
        per_query = {}
        for qid, _, doc, rank, _, _ in lines:
            per_query.setdefault(qid, []).append(doc)
            self.assertEqual(int(rank), len(per_query[qid]))
        for docs in per_query.values():
            self.assertEqual(len(docs), len(set(docs)))
        r = self.ok("eval", "--qrels", self.path("odd-qrels.trec"), "--run",
                    self.write("chunks.trec", chunk_run), "--format", "json", index=None)
        self.assertGreater(r.json()["metrics"]["nDCG@10"], 0.5)

    def setup_odd_index(self):
        paths = self.make_corpus("work/odd", ODD)
        records = [{"_id": i, "title": f"Record {n}", "text": f"record {n} retry backoff"}
                   for n, i in enumerate(["rec 1", "rec\t2", "rec\\n3", "-7", "r#2", "x\u0000y",
                                          "ünï", "two  spaces"])]
        self.write_jsonl("work/records.jsonl", records)
        self.ok("-q", "ingest", "-r", "odd")
        self.ok("-q", "ingest", "records.jsonl", "--collection", "records")
        expected = {p: t for p, t in zip(paths, TEXTS)}
        for r in records:
            expected[r["_id"].encode()] = r["text"] + "\n"
        return expected

    def get_text(self, printed):
        r = self.rk("get", "--", printed)
        self.assertEqual(r.code, 0, r)
        return r.out

    def test_every_format_prints_ids_that_rk_get_takes_back(self):
        expected = self.setup_odd_index()
        n = len(expected)
        by_text = {}
        for doc_id, text in expected.items():
            by_text.setdefault(text, []).append(doc_id)

        def check(label, printed_ids):
            self.assertEqual(len(printed_ids), n, f"{label}: {printed_ids}")
            got = {}
            for p in printed_ids:
                doc = self.rk("get", "--format", "json", "--", p)
                self.assertEqual(doc.code, 0, f"{label}: {p!r}: {doc!r}")
                info = doc.json()
                raw = info["id"].encode()
                if info.get("id_escaped"):
                    raw = unescape(info["id"])
                got[raw] = p
            self.assertEqual(sorted(got), sorted(expected), label)

        def lines(r):
            return r.out_bytes.split(b"\n")[:-1]

        # rk ls, every format.
        check("ls json", [json_id(d) for d in self.ok("ls", "--format", "json").json()])
        check("ls jsonl", [json_id(d) for d in self.ok("ls", "--format", "jsonl").jsonl()])
        check("ls tsv", [line.split(b"\t")[0] for line in lines(self.ok("ls", "--format", "tsv"))])
        ls_text = lines(self.ok("ls"))
        check("ls text", [line[:line.rindex(b"  ", 0, line.rindex(b"  "))] for line in ls_text])
        # rk query, every format (k covers every document).
        q = ("query", "retry backoff cache record", "-k", "100", "--mode", "bm25")
        everything = self.ok(*q, "--format", "json").json()["results"]
        self.assertEqual(len(everything), n, everything)
        # JSON is valid, and ids that are not UTF-8 (or hold a NUL) are escaped and flagged.
        flagged = sorted(h["id"] for h in everything if h.get("id_escaped"))
        self.assertEqual(len(flagged), 3, everything)
        for end in ("/caf\\xe9.md", "/\\xff\\xfe bytes.md", "x\\x00y"):
            self.assertTrue(any(f.endswith(end) for f in flagged), (end, flagged))
        files = [h for h in everything if h["collection"] == "default"]
        self.assertTrue(all(h.get("source_escaped") == h.get("id_escaped") for h in files))
        check("query json", [json_id(h) for h in everything])
        check("query jsonl", [json_id(h) for h in self.ok(*q, "--format", "jsonl").jsonl()])
        check("query tsv", [line.split(b"\t")[3] for line in lines(self.ok(*q, "--format", "tsv"))])
        trec = [line.split(b" ") for line in lines(self.ok(*q, "--format", "trec"))]
        self.assertTrue(all(len(f) == 6 for f in trec), trec)
        check("query trec", [f[2] for f in trec])
        text = lines(self.ok(*q))
        check("query text", [re.sub(rb" > .*$", b"", line[4:]) for line in text[1::3]])
        md = self.ok(*q, "--format", "markdown").out_bytes
        spans = re.findall(rb"^   (`+) ?(.*?) ?\1(?: \xe2\x80\x94 .*)?$", md, re.M)
        check("query markdown", [s for _, s in spans])
        # A chunk address built on a printed id names that chunk.
        for h in everything:
            p = json_id(h) + b"#0"
            self.assertEqual(self.rk("get", "--format", "json", "--", p).json()["chunk_list"][0]
                             ["seq"], 0, p)

    def test_rm_takes_printed_ids_and_never_reads_an_id_as_a_glob(self):
        expected = self.setup_odd_index()
        self.write("work/notes[1].md", "bracket retry\n")
        self.write("work/notes1.md", "plain retry\n")
        self.ok("-q", "ingest", "notes[1].md", "notes1.md")
        # 'notes[1].md' names a document: it is removed alone, not read as a glob.
        self.ok("-q", "rm", "notes[1].md")
        self.assertEqual(self.get_text("notes1.md"), "plain retry\n")
        # Every printed form from tsv removes exactly its document.
        printed = [line.split(b"\t")[0] for line in
                   self.ok("ls", "--format", "tsv").out_bytes.split(b"\n")[:-1]]
        before = len(printed)
        for i, p in enumerate(printed):
            r = self.ok("rm", "-v", "--", p)
            self.assertIn("removed 1 document", r.err)
            self.assertEqual(len(self.ls()), before - i - 1)
        self.assertEqual(len(expected) + 1, before)

    def test_servers_reply_with_ids_their_get_takes_back(self):
        self.setup_odd_index()
        # MCP: search, then get each hit by the id it gave.
        lines = [{"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                  "params": {"name": "search", "arguments": {
                      "query": "retry backoff cache record", "k": 100, "mode": "bm25"}}}]
        r = self.rk("mcp", stdin="".join(json.dumps(m) + "\n" for m in lines))
        hits = json.loads(r.out.splitlines()[0])["result"]["structuredContent"]["results"]
        gets = [{"jsonrpc": "2.0", "id": i + 2, "method": "tools/call",
                 "params": {"name": "get", "arguments": {"id": h["id"]}}}
                for i, h in enumerate(hits)]
        r = self.rk("mcp", stdin="".join(json.dumps(m) + "\n" for m in gets))
        replies = [json.loads(line) for line in r.out.splitlines()]
        self.assertEqual(len(replies), len(hits))
        for h, reply in zip(hits, replies):
            doc = reply["result"]["structuredContent"]
            self.assertEqual((doc["id"], doc.get("id_escaped")), (h["id"], h.get("id_escaped")))
        # HTTP: the same, with ids in the URL's path.
        p = subprocess.Popen([self.RK, "--index", self.index, "serve", "--port", "0"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, env=self.env, cwd=self.work)
        try:
            url = p.stderr.readline().decode().split()[-1]
            query = urllib.parse.urlencode({"q": "retry backoff cache record", "k": 100,
                                            "mode": "bm25"})
            with urllib.request.urlopen(f"{url}/search?{query}", timeout=30) as resp:
                http_hits = json.loads(resp.read())["results"]
            self.assertEqual(sorted(h["id"] for h in http_hits), sorted(h["id"] for h in hits))
            for h in http_hits:
                quoted = urllib.parse.quote(h["id"].encode(), safe="")
                try:
                    with urllib.request.urlopen(f"{url}/docs/{quoted}", timeout=30) as resp:
                        self.assertEqual(json.loads(resp.read())["id"], h["id"])
                except urllib.error.HTTPError as e:
                    self.fail(f"/docs/{quoted}: {e}")
        finally:
            p.terminate()
            p.wait(timeout=30)
            p.stderr.close()

    def test_ids_with_hash_and_dash(self):
        self.setup_odd_index()
        self.assertEqual(self.get_text("odd/hash#1.md"), TEXTS[5])
        self.assertEqual(self.get_text("odd/hash#1.md#0"), TEXTS[5])
        self.assertEqual(self.get_text("r#2"), "record 4 retry backoff\n")
        self.assertEqual(self.get_text("r#2#0"), "record 4 retry backoff\n")
        self.assertEqual(self.get_text("odd/-dash.md"), TEXTS[6])
        self.assertEqual(self.get_text("-7"), "record 3 retry backoff\n")
        # A backslash that starts no escape is taken as written.
        self.write("work/odd/C:\\docs.md", "windows retry\n")
        self.ok("-q", "ingest", "odd/C:\\docs.md")
        self.assertEqual(self.get_text("odd/C:\\docs.md"), "windows retry\n")


def unescape(text):
    """The inverse of escape(), for ids JSON flags as escaped."""
    out = bytearray()
    i = 0
    while i < len(text):
        if text[i] != "\\":
            out += text[i].encode()
            i += 1
        elif text[i + 1] == "x":
            out.append(int(text[i + 2:i + 4], 16))
            i += 4
        else:
            out += {"\\": b"\\", "t": b"\t", "n": b"\n", "r": b"\r"}[text[i + 1]]
            i += 2
    return bytes(out)
