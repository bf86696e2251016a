#!/usr/bin/env python3
"""A measurement of rk mcp's round trip (not a ctest test): N tools/call search requests over
stdio, one at a time, against an index of cranfield; prints p50/p99/mean in milliseconds.

    tests/load/mcp-roundtrip.py RK_BINARY [N]
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    rk = os.path.abspath(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    datasets = os.environ.get("RK_DATASETS", os.path.join(HERE, "..", "..", "..", "shared",
                                                          "datasets"))
    cran = os.path.join(datasets, "cranfield")
    with open(os.path.join(cran, "queries.jsonl"), encoding="utf-8") as f:
        queries = [json.loads(line)["text"] for line in f]
    with tempfile.TemporaryDirectory(prefix="rk-mcp-rt-") as tmp:
        index = os.path.join(tmp, "index")
        subprocess.run([rk, "--index", index, "-q", "ingest",
                        os.path.join(cran, "corpus.jsonl")], check=True)
        p = subprocess.Popen([rk, "--index", index, "mcp"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)

        def ask(msg):
            p.stdin.write((json.dumps(msg) + "\n").encode())
            p.stdin.flush()
            return json.loads(p.stdout.readline())

        ask({"jsonrpc": "2.0", "id": 0, "method": "initialize",
             "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                        "clientInfo": {"name": "rt", "version": "1"}}})
        times = []
        for i in range(n):
            msg = {"jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
                   "params": {"name": "search",
                              "arguments": {"query": queries[i % len(queries)],
                                            "mode": "bm25", "k": 10}}}
            t0 = time.perf_counter()
            r = ask(msg)
            times.append((time.perf_counter() - t0) * 1000)
            assert not r["result"]["isError"], r
        p.stdin.close()
        p.wait()
        times.sort()
        print(f"{n} tools/call search round trips (cranfield, bm25, k=10): "
              f"p50 {times[n // 2]:.3f} ms, p99 {times[int(n * 0.99)]:.3f} ms, "
              f"mean {statistics.mean(times):.3f} ms")


if __name__ == "__main__":
    main()
