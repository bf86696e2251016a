#!/usr/bin/env bash
# Runs `rk bench` over every dataset in a BEIR-layout directory (default: the shared
# datasets beside the repository) and writes the JSON report and a Markdown summary table.
#   bench/run_all.sh [DATASETS_DIR] [OUT_PREFIX]      (needs a built build/release)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
datasets=${1:-$root/../shared/datasets}
out=${2:-$root/build/bench}
rk=${RK:-$root/build/release/apps/rk/rk}
mkdir -p "$(dirname "$out")"
mapfile -t dirs < <(find "$datasets" -mindepth 2 -maxdepth 2 -name corpus.jsonl -printf '%h\n' | sort)
((${#dirs[@]})) || { echo "no datasets under $datasets" >&2; exit 2; }
"$rk" bench "${dirs[@]}" --repeat "${REPEAT:-5}" --report "$out.json" >&2
python3 - "$out.json" >"$out.md" <<'PY'
import json, sys
rep = json.load(open(sys.argv[1]))
metrics = None
print(f"rk {rep['rk_version']} on {rep['machine']['cpu']} ({rep['machine']['cores']} cores), "
      f"{rep['options']['repeat']} timed passes\n")
for d in rep["datasets"]:
    for mode, m in d["modes"].items():
        if metrics is None:
            metrics = list(m["quality"])
            print("| dataset | mode | docs | queries | " + " | ".join(metrics) +
                  " | median ms | p95 ms | p99 ms | QPS | ingest s | docs/s | index MiB |")
            print("|" + "---|" * (4 + len(metrics) + 7))
        lat = m["latency"]
        print(f"| {d['name']} | {mode} | {d['documents']} | {d['queries']} | " +
              " | ".join(f"{m['quality'][k]:.4f}" for k in metrics) +
              f" | {lat['median_ms']:.3f} | {lat['p95_ms']:.3f} | {lat['p99_ms']:.3f}"
              f" | {lat['qps']:.0f} | {d['ingest_seconds']:.3f} | {d['docs_per_s']:.0f}"
              f" | {d['index_bytes'] / 2**20:.1f} |")
PY
cat "$out.md"
