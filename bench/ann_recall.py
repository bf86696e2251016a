#!/usr/bin/env python3
"""HNSW recall@10 against exact search over the same vectors, per dataset and ef.

usage: bench/ann_recall.py RK INDEX_ROOT DATASET... [--ef 32,64,128]
Each dataset is ingested into INDEX_ROOT/NAME (reused if there), then its queries run in
vector mode, chunk hits, once exactly and once through the graph; recall@10 is the share
of the exact top 10 chunks the graph also returns, averaged over queries.
"""
import argparse
import json
import os
import subprocess
import sys
import time


def run(rk, index, queries, *args):
    t0 = time.perf_counter()
    out = subprocess.run([rk, "--index", index, "query", "--mode", "vector", "--chunks",
                          "--format", "jsonl", "-k", "10", "--batch", queries, *args],
                         check=False, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if out.returncode not in (0, 1):
        sys.exit(out.stderr)
    hits = {}
    for line in out.stdout.splitlines():
        h = json.loads(line)
        hits.setdefault(h["qid"], []).append((h["id"], h["chunk"]))
    return hits, seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rk")
    ap.add_argument("root")
    ap.add_argument("datasets", nargs="+")
    ap.add_argument("--ef", default="16,32,64,128")
    ap.add_argument("--min", type=float, default=0.0, help="fail below this recall at --ef's last")
    a = ap.parse_args()
    worst = 1.0
    for ds in a.datasets:
        name = os.path.basename(os.path.normpath(ds))
        index = os.path.join(a.root, name)
        if not os.path.exists(index):
            subprocess.run([a.rk, "--index", index, "-q", "ingest", os.path.join(ds, "corpus.jsonl")],
                           check=True)
        queries = os.path.join(ds, "queries.jsonl")
        exact, t_exact = run(a.rk, index, queries, "--vector-search", "exact")
        n = len(exact)
        print(f"{name}: {n} queries, exact {1000 * t_exact / n:.3f} ms/query (whole batch)")
        for ef in a.ef.split(","):
            graph, t_graph = run(a.rk, index, queries, "--vector-search", "hnsw", "--ef", ef)
            recall = sum(len(set(graph.get(q, [])) & set(e)) / len(e)
                         for q, e in exact.items() if e) / max(1, sum(1 for e in exact.values() if e))
            print(f"{name}: ef {ef:>4} recall@10 {recall:.4f}, {1000 * t_graph / n:.3f} ms/query")
        worst = min(worst, recall)
    if worst < a.min:
        sys.exit(f"recall@10 {worst:.4f} is under {a.min}")


if __name__ == "__main__":
    main()
