#!/usr/bin/env bash
# Export and import, measured (see "Export and import" in bench/README.md). For each corpus:
# ingest it into a fresh index (A), `rk export --vectors` it, `rk import` that into a fresh
# index (B), export B again and compare the two exports byte for byte but for the header's
# line (which holds the time); then run the queries against A and B in every mode (k=100,
# TREC runs) and count the queries whose rankings differ, with the graph (the default) and
# with exact vector search; and those that differ between A and a second ingest of the same
# corpus (the HNSW graph is built in chunk order on one thread, so none should).
# Also imports a text-only export (`rk export`), whose chunks and vectors are all computed
# again, for comparison.
#   bench/transfer.sh CORPUS.jsonl[:QUERIES.jsonl]...
# (default: every shared dataset with its own queries). Needs a built build/release.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rk=${RK:-$root/build/release/apps/rk/rk}
if (($# == 0)); then
    set --
    for d in "$root"/../shared/datasets/*/; do
        [[ -f $d/corpus.jsonl ]] && set -- "$@" "$d/corpus.jsonl:$d/queries.jsonl"
    done
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# measure OUT CMD...: runs CMD, appends "seconds peak_MiB" to OUT.
measure() {
    local out=$1
    shift
    /usr/bin/time -f '%e %M' -o "$tmp/time" "$@"
    read -r secs kib <"$tmp/time"
    printf '%s %.0f\n' "$secs" "$((kib / 1024))" >>"$out"
}

printf '| corpus | docs | ingest s | ingest peak MiB | export MiB | export s | export peak MiB | import s | import peak MiB | text-only import s | second export | queries ranked differently: bm25 / vector / hybrid | the same, exact vectors: vector / hybrid | a second ingest: vector / hybrid |\n'
printf '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n'
for arg in "$@"; do
    corpus=${arg%%:*}
    queries=${arg#*:}
    [[ $queries == "$arg" ]] && queries=""
    name=$(basename "$(dirname "$corpus")")
    [[ $name == . || $name == scale ]] && name=$(basename "$corpus" .jsonl)
    rm -rf "$tmp/a" "$tmp/a2" "$tmp/b" "$tmp/c" "$tmp"/*.jsonl "$tmp"/*.trec "$tmp/times"
    measure "$tmp/times" "$rk" -q --index "$tmp/a" ingest "$corpus"
    measure "$tmp/times" "$rk" -q --index "$tmp/a" export --vectors -o "$tmp/e1.jsonl"
    measure "$tmp/times" "$rk" -q --index "$tmp/b" import "$tmp/e1.jsonl"
    "$rk" -q --index "$tmp/b" export --vectors -o "$tmp/e2.jsonl"
    "$rk" -q --index "$tmp/a" export -o "$tmp/text.jsonl"
    measure "$tmp/times" "$rk" -q --index "$tmp/c" import "$tmp/text.jsonl"
    if cmp -s <(tail -n +2 "$tmp/e1.jsonl") <(tail -n +2 "$tmp/e2.jsonl"); then
        same=identical
    else
        same=DIFFERENT
    fi
    "$rk" -q --index "$tmp/b" index verify || same="$same, VERIFY FAILED"
    docs=$(($(wc -l <"$tmp/e1.jsonl") - 2))
    mib=$(du -m "$tmp/e1.jsonl" | cut -f1)
    # differ INDEX MODE...: per mode ("vector:exact" for exact vector search), the number of
    # queries whose top 100 (ids and scores) differ between A and INDEX, joined by " / ".
    differ() {
        local other=$1 out="" mode n
        shift
        for mode in "$@"; do
            local flags=(--mode "${mode%%:*}" --format trec -k 100 --batch "$queries")
            [[ $mode == *:exact ]] && flags+=(--vector-search exact)
            "$rk" -q --index "$tmp/a" query "${flags[@]}" >"$tmp/a.trec" || true
            "$rk" -q --index "$other" query "${flags[@]}" >"$tmp/o.trec" || true
            n=$(python3 - "$tmp/a.trec" "$tmp/o.trec" <<'PY'
import sys
def runs(path):
    out = {}
    for line in open(path):
        q, _, doc, rank, score, _ = line.split()
        out.setdefault(q, []).append((doc, score))
    return out
a, b = runs(sys.argv[1]), runs(sys.argv[2])
print(sum(1 for q in a.keys() | b.keys() if a.get(q) != b.get(q)))
PY
)
            out+="${out:+ / }$n"
        done
        printf '%s' "$out"
    }
    graph="(no queries)" exact="" again=""
    if [[ -n $queries ]]; then
        graph=$(differ "$tmp/b" bm25 vector hybrid)
        exact=$(differ "$tmp/b" vector:exact hybrid:exact)
        "$rk" -q --index "$tmp/a2" ingest "$corpus"
        again=$(differ "$tmp/a2" vector hybrid)
    fi
    mapfile -t t <"$tmp/times"
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
        "$name" "$docs" "${t[0]% *}" "${t[0]#* }" "$mib" "${t[1]% *}" "${t[1]#* }" "${t[2]% *}" \
        "${t[2]#* }" "${t[3]% *}" "$same" "$graph" "$exact" "$again"
done
