#!/usr/bin/env bash
# A load measurement of rk serve (not a ctest test: it takes a minute and its figures depend on
# the machine). Indexes cranfield, serves it, and runs wrk with the cranfield queries (plus
# /docs and /stats requests) while another process ingests and removes manpages-3 in a loop.
#
#   tests/load/serve-load.sh RK_BINARY [DURATION_S] [CONNECTIONS] [SERVER_THREADS]
#
# RK_LOAD_MODE picks the search mode (default bm25). Prints wrk's figures (requests/s, p50/p90/p99, every kind of error) and how many ingest
# rounds ran meanwhile. Needs wrk (Debian: apt-get install wrk) and ../shared/datasets.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rk=$(realpath "${1:?usage: serve-load.sh RK_BINARY [DURATION_S] [CONNECTIONS] [THREADS]}")
duration=${2:-30}
connections=${3:-8}
threads=${4:-8}
datasets=${RK_DATASETS:-$here/../../../shared/datasets}
command -v wrk >/dev/null || { echo "serve-load.sh: wrk is not installed" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rk-serve-load.XXXXXX")
server=
writer=
cleanup() {
    [[ -n $writer ]] && touch "$tmp/stop" && wait "$writer" 2>/dev/null
    [[ -n $server ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

index=$tmp/index
"$rk" --index "$index" -q ingest "$datasets/cranfield/corpus.jsonl" --collection cranfield

# The requests: every cranfield query as a search, every tenth a document, some stats.
python3 - "$datasets/cranfield" "${RK_LOAD_MODE:-bm25}" > "$tmp/paths" <<'PY'
import json, sys, urllib.parse
d, mode = sys.argv[1], sys.argv[2]
qs = [json.loads(l)["text"] for l in open(d + "/queries.jsonl")]
ids = [json.loads(l)["_id"] for l in open(d + "/corpus.jsonl")]
for n, q in enumerate(qs):
    print("/search?" + urllib.parse.urlencode({"q": q, "mode": mode, "k": 10}))
    if n % 10 == 0:
        print("/docs/" + urllib.parse.quote(ids[(n * 7) % len(ids)], safe=""))
    if n % 50 == 0:
        print("/stats")
PY

"$rk" --index "$index" serve --port 0 --threads "$threads" 2> "$tmp/serve.err" &
server=$!
for _ in $(seq 100); do grep -q 'serving on' "$tmp/serve.err" && break; sleep 0.1; done
url=$(sed -n 's/^rk: serving on //p' "$tmp/serve.err")
[[ -n $url ]] || { cat "$tmp/serve.err" >&2; exit 1; }

# The writer: ingest manpages-3 (803 documents, 4 MiB), remove it, again, until told to stop
# (RK_LOAD_WRITER=0 leaves it out, for a baseline).
[[ ${RK_LOAD_WRITER:-1} == 0 ]] || (
    rounds=0
    while [[ ! -e $tmp/stop ]]; do
        "$rk" --index "$index" -q ingest "$datasets/manpages-3/corpus.jsonl" --collection man
        "$rk" --index "$index" -q rm --collection man
        rounds=$((rounds + 1))
        echo "$rounds" > "$tmp/rounds"
    done
) &
[[ ${RK_LOAD_WRITER:-1} == 0 ]] || writer=$!

echo "wrk -t2 -c$connections -d${duration}s --timeout 5s --latency -s paths.lua $url" \
    "($(wc -l < "$tmp/paths") paths; rk serve --threads $threads)"
RK_WRK_PATHS=$tmp/paths wrk -t2 -c"$connections" -d"${duration}s" --timeout 5s --latency \
    -s "$here/paths.lua" "$url"
if [[ -n $writer ]]; then
    touch "$tmp/stop"
    wait "$writer"
    writer=
fi
echo "ingest + rm rounds of manpages-3 completed meanwhile: $(cat "$tmp/rounds" 2>/dev/null || echo 0)"
kill -TERM "$server"
wait "$server"
echo "rk serve exit status after SIGTERM: $?"
server=
