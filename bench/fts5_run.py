#!/usr/bin/env python3
"""The quality floor: plain SQLite FTS5 with the porter tokenizer and its own bm25(), one row
per whole document (title and text columns), queries as OR of their words. Writes a TREC
run to score with `rk eval`. Usage: fts5_run.py DATASET_DIR RUN_OUT [K]"""
import json
import os
import re
import sqlite3
import sys

dataset, out_path = sys.argv[1], sys.argv[2]
k = int(sys.argv[3]) if len(sys.argv) > 3 else 100
db = sqlite3.connect(":memory:")
db.execute("CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, text, "
           "tokenize='porter unicode61 remove_diacritics 2')")
with db, open(os.path.join(dataset, "corpus.jsonl"), encoding="utf-8") as f:
    for line in f:
        r = json.loads(line)
        db.execute("INSERT INTO docs VALUES (?,?,?)", (r["_id"], r.get("title") or "",
                                                        r.get("text") or ""))
with open(os.path.join(dataset, "queries.jsonl"), encoding="utf-8") as f, \
        open(out_path, "w", encoding="utf-8") as out:
    for line in f:
        q = json.loads(line)
        words = re.findall(r"\w+", q["text"])
        if not words:
            continue
        expr = " OR ".join('"%s"' % w for w in words)
        rows = db.execute("SELECT id, bm25(docs) FROM docs WHERE docs MATCH ? "
                          "ORDER BY bm25(docs) LIMIT ?", (expr, k))
        for rank, (doc_id, score) in enumerate(rows, 1):
            out.write(f"{q['_id']} Q0 {doc_id} {rank} {-score:.6f} fts5\n")
