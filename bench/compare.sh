#!/usr/bin/env bash
# rk against Xapian's BM25 (python3-xapian) and plain SQLite FTS5 bm25() on the same datasets,
# in one run on one machine: nDCG@10 of each (rk in each of its modes; every run scored by
# `rk eval`, rk's own by `rk bench`) and per-query
# latency inside one warm process (rk: `rk bench`; Xapian: the same passes in Python, whose
# call overhead is counted against it; FTS5: quality only).
#   bench/compare.sh [DATASET_DIR...]      (needs a built build/release; default: all shared)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rk=${RK:-$root/build/release/apps/rk/rk}
warmup=${WARMUP:-1} repeat=${REPEAT:-5}
if (($# == 0)); then
    mapfile -t dirs < <(find "$root/../shared/datasets" -mindepth 2 -maxdepth 2 \
        -name corpus.jsonl -printf '%h\n' | sort)
else
    dirs=("$@")
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ndcg() { "$rk" eval --qrels "$1/qrels/test.tsv" --run "$2" --metrics ndcg@10 --format json |
    python3 -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["metrics"]["nDCG@10"])'; }

printf '| dataset | docs | rk bm25 | rk vector | rk hybrid (default) | Xapian BM25 | FTS5 bm25() | rk bm25 median ms | rk bm25 p95 ms | Xapian median ms | Xapian p95 ms |\n'
printf '|---|---|---|---|---|---|---|---|---|---|---|\n'
for d in "${dirs[@]}"; do
    name=$(basename "$d")
    "$rk" bench "$d" --warmup "$warmup" --repeat "$repeat" --report "$tmp/rk.json" >/dev/null
    read -r docs rk_ndcg rk_vector rk_hybrid rk_med rk_p95 < <(python3 - "$tmp/rk.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["datasets"][0]
modes = d["modes"]
def ndcg(mode):
    return "%.4f" % modes[mode]["quality"]["nDCG@10"] if mode in modes else "-"
m = modes["bm25"]
print(d["documents"], ndcg("bm25"), ndcg("vector"), ndcg("hybrid"),
      "%.3f" % m["latency"]["median_ms"], "%.3f" % m["latency"]["p95_ms"])
PY
    )
    xap=$(/usr/bin/python3 "$root/bench/xapian_run.py" "$d" "$tmp/xapian.trec" 100 "$warmup" \
        "$repeat" 2>/dev/null)
    read -r x_med x_p95 < <(python3 -c 'import json,sys; j=json.loads(sys.argv[1]);
print("%.3f %.3f" % (j["median_ms"], j["p95_ms"]))' "$xap")
    python3 "$root/bench/fts5_run.py" "$d" "$tmp/fts5.trec" 100
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$docs" \
        "$rk_ndcg" "$rk_vector" "$rk_hybrid" "$(ndcg "$d" "$tmp/xapian.trec")" \
        "$(ndcg "$d" "$tmp/fts5.trec")" "$rk_med" "$rk_p95" "$x_med" "$x_p95"
done
