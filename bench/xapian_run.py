#!/usr/bin/env python3
"""A second system for comparisons: Xapian's BM25 (python3-xapian from Debian) over a BEIR
corpus. Writes a TREC run of the queries and reports per-query latency, measured in this
process after indexing (the index is in memory, warm): WARMUP untimed passes over the queries,
then REPEAT timed ones, as `rk bench` does (defaults 1 and 5).

Usage: xapian_run.py DATASET_DIR RUN_OUT [K [WARMUP REPEAT]]"""
import json
import os
import statistics
import sys
import time

import xapian

dataset, out_path = sys.argv[1], sys.argv[2]
k = int(sys.argv[3]) if len(sys.argv) > 3 else 100
warmup = int(sys.argv[4]) if len(sys.argv) > 4 else 1
repeat = int(sys.argv[5]) if len(sys.argv) > 5 else 5

db = xapian.WritableDatabase("", xapian.DB_BACKEND_INMEMORY)
gen = xapian.TermGenerator()
gen.set_stemmer(xapian.Stem("english"))
gen.set_stemming_strategy(xapian.TermGenerator.STEM_SOME)
with open(os.path.join(dataset, "corpus.jsonl"), encoding="utf-8") as f:
    for line in f:
        r = json.loads(line)
        doc = xapian.Document()
        gen.set_document(doc)
        gen.index_text(r.get("title") or "")
        gen.increase_termpos()
        gen.index_text(r.get("text") or "")
        doc.add_value(0, r["_id"])
        db.add_document(doc)

parser = xapian.QueryParser()
parser.set_stemmer(xapian.Stem("english"))
parser.set_stemming_strategy(xapian.QueryParser.STEM_SOME)
parser.set_default_op(xapian.Query.OP_OR)
enquire = xapian.Enquire(db)
enquire.set_weighting_scheme(xapian.BM25Weight())
with open(os.path.join(dataset, "queries.jsonl"), encoding="utf-8") as f:
    queries = [json.loads(line) for line in f if line.strip()]


def run_once(timed):
    results = []
    for q in queries:
        t0 = time.perf_counter()
        enquire.set_query(parser.parse_query(q["text"]))
        mset = enquire.get_mset(0, k)
        hits = [(m.document.get_value(0).decode(), m.weight) for m in mset]
        if timed is not None:
            timed.append((time.perf_counter() - t0) * 1000)
        results.append((q["_id"], hits))
    return results


for _ in range(warmup):
    run_once(None)
times = []
for _ in range(repeat):
    results = run_once(times)
with open(out_path, "w", encoding="utf-8") as out:
    for qid, hits in results:
        for rank, (doc_id, weight) in enumerate(hits, 1):
            out.write(f"{qid} Q0 {doc_id} {rank} {weight:.6f} xapian\n")
times.sort()
p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
print(f"xapian: {len(queries)} queries x {repeat}, median {statistics.median(times):.3f} ms, "
      f"p95 {p95:.3f} ms", file=sys.stderr)
print(json.dumps({"median_ms": statistics.median(times), "p95_ms": p95}))
