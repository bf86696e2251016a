#!/usr/bin/env python3
"""The floor to compare `rk ingest` with: plain SQLite FTS5 (porter tokenizer) inserting the
records of a BEIR corpus.jsonl in one transaction. Usage: fts5_floor.py CORPUS.jsonl DB"""
import json
import os
import sqlite3
import sys
import time

corpus, db_path = sys.argv[1], sys.argv[2]
if os.path.exists(db_path):
    os.remove(db_path)
t0 = time.perf_counter()
db = sqlite3.connect(db_path)
db.execute("PRAGMA journal_mode=WAL")
db.execute("CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, text, "
           "tokenize='porter unicode61 remove_diacritics 2')")
n = 0
with open(corpus, encoding="utf-8") as f, db:
    for line in f:
        r = json.loads(line)
        db.execute("INSERT INTO docs VALUES (?,?,?)", (r["_id"], r.get("title", ""), r.get("text", "")))
        n += 1
db.close()
dt = time.perf_counter() - t0
print(f"{n} records in {dt:.3f} s: {n / dt:.0f} records/s")
