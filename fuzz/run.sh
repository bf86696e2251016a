#!/usr/bin/env bash
# Builds the fuzz preset (clang, libFuzzer, ASan + UBSan) and runs every target for SECONDS
# (default 30) each, from its seeds in fuzz/corpus/TARGET plus what earlier runs on this
# checkout found (build/fuzz/corpus/TARGET). Exits 1 when any target finds a crash, a leak,
# a timeout, too much memory or a UBSan report; the input is kept in build/fuzz/artifacts.
#   fuzz/run.sh [SECONDS] [TARGET...]
# RK_FUZZ_JOBS targets run at once (default: 2, or 1 on one core).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true

# Each target with the longest input worth trying: a query as long as the servers take, a
# document of a few pages, a graph file of a few nodes, a posting file of a few lists.
declare -A max_len=(
    [query]=4096 [markdown]=16384 [html]=16384 [roff]=16384 [code]=16384 [text]=8192
    [records]=8192 [export]=8192 [trec]=8192 [graph]=4096 [postings]=8192 [model2vec]=8192 [mcp]=8192 [http]=4096 [config]=4096
    [office]=65536 [pdf]=65536
)
order=(query markdown html roff code text records export trec graph postings model2vec mcp http config office pdf)
targets=("$@")
((${#targets[@]})) || targets=("${order[@]}")
for t in "${targets[@]}"; do
    [[ -n ${max_len[$t]:-} ]] || { echo "fuzz/run.sh: no target '$t'" >&2; exit 2; }
done

cmake --preset fuzz >/dev/null
jobs=${RK_FUZZ_JOBS:-$(($(nproc) > 1 ? 2 : 1))}
cmake --build --preset fuzz -j "$jobs" --target fuzz_all >/dev/null

out=build/fuzz
mkdir -p "$out/artifacts" "$out/logs"
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_one() {
    local t=$1 corpus=$out/corpus/$1
    mkdir -p "$corpus"
    local start=$SECONDS rc=0
    # New inputs go to the first directory; the seeds are read, never written.
    "$out/fuzz/fuzz_$t" -max_total_time="$seconds" -max_len="${max_len[$t]}" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" \
        "$corpus" "fuzz/corpus/$t" >"$out/logs/$t.log" 2>&1 || rc=$?
    echo "$rc $((SECONDS - start))" >"$out/logs/$t.status"
}

for t in "${targets[@]}"; do
    while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
    run_one "$t" &
done
wait

failed=0
printf '%-10s %12s %8s %8s %6s  %s\n' target executions cov ft secs result
for t in "${targets[@]}"; do
    read -r rc secs <"$out/logs/$t.status"
    log=$out/logs/$t.log
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    # libFuzzer's last status line ("#N DONE cov: C ft: F ..." or the last progress line).
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    result=ok
    if ((rc != 0)); then
        result="FAILED (exit $rc): see $log"
        failed=1
    fi
    printf '%-10s %12s %8s %8s %6s  %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$secs" "$result"
done
if ((failed)); then
    for t in "${targets[@]}"; do
        read -r rc _ <"$out/logs/$t.status"
        ((rc == 0)) || { echo "== $t"; grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$out/logs/$t.log" | head -20; }
    done
    exit 1
fi
