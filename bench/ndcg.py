#!/usr/bin/env python3
"""nDCG@k of a TREC run against BEIR qrels (test.tsv), averaged over the judged queries.
A quick scorer for tuning; `rk eval` is the tool. Usage: ndcg.py QRELS RUN [K]"""
import collections
import math
import sys

qrels_path, run_path = sys.argv[1], sys.argv[2]
k = int(sys.argv[3]) if len(sys.argv) > 3 else 10
qrels = collections.defaultdict(dict)
with open(qrels_path) as f:
    for line in f:
        parts = line.split()
        if len(parts) < 3 or parts[0] == "query-id":
            continue
        qrels[parts[0]][parts[1]] = int(parts[2])
run = collections.defaultdict(list)
with open(run_path) as f:
    for line in f:
        qid, _, doc, _, score, _ = line.split()
        run[qid].append((-float(score), doc))
total = 0.0
for qid, rel in qrels.items():
    ranked = [d for _, d in sorted(run.get(qid, []))][:k]
    dcg = sum((2 ** rel.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(ranked))
    ideal = sorted(rel.values(), reverse=True)[:k]
    idcg = sum((2 ** g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    total += dcg / idcg if idcg > 0 else 0.0
print(f"{total / len(qrels):.4f}")
