#!/usr/bin/env bash
# Counts a benchmark's heap allocations and records where each one comes from.
#
#   scripts/alloc-census.sh BINARY OUTPUT [BENCH [ARGS...]]
#
#   scripts/alloc-census.sh .build/release/skald /tmp/census
#   scripts/alloc-census.py /tmp/census.txt
#   scripts/alloc-census.py /tmp/census.txt --callers _consumeAndCreateNew
#
# BENCH defaults to `orchestrator --sagas 20000 --pgbench-seconds 0`, on a freshly created
# throwaway cluster (`scripts/postgres.sh`, cluster `census`), warmed first (COLD=1 skips that).
# Two measures:
#
# - jemalloc's own count of allocation requests over the whole run (MALLOC_CONF's
#   `stats_print`), divided by the run's transitions (or sagas): allocations per transition,
#   setup included. Printed at the end and kept in OUTPUT.out.
# - after WARMUP seconds (6), `perf` uprobes on jemalloc's allocating entry points (`malloc`,
#   `calloc`, `realloc`, `posix_memalign`, `aligned_alloc`) record the
#   call stack of every allocation the benchmark's process makes for SECONDS_RECORDED (3).
#   Recording every call slows the process several-fold while it runs, so the run's own
#   throughput means nothing; the stacks say which code allocates. OUTPUT.txt is their
#   `perf script`, which scripts/alloc-census.py reads. The stacks are unwound by frame
#   pointers at the allocator's entry, so the function that called `malloc` itself is missing
#   (for Swift that is only `swift_slowAlloc`); C code built without frame pointers, librdkafka's,
#   shows as one unknown frame or none.
#
# Needs root (for `perf probe`) and a binary linked with jemalloc (every release build of this
# project is).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
script=alloc-census.sh
usage_lines=2,27p
# shellcheck source=lib/perf-during-bench.sh
. "$root/scripts/lib/perf-during-bench.sh"

perf_bench_arguments orchestrator --sagas 20000 --pgbench-seconds 0 -- "$@"
warmup=${WARMUP:-6}
seconds=${SECONDS_RECORDED:-3}

jemalloc=$(ldd "$binary" 2>/dev/null | awk '/libjemalloc/ { print $3; exit }') || true
[ -n "$jemalloc" ] || { echo "alloc-census.sh: $binary is not linked with jemalloc" >&2; exit 66; }
"$root/scripts/ensure-perf.sh"
# One probe per entry point that hands out memory; already defined ones are kept.
for function in malloc calloc realloc posix_memalign aligned_alloc; do
    perf probe -q -x "$jemalloc" "$function" >/dev/null 2>&1 || true
done
# perf names the group after the library's file name, cut at its first character that is not
# a letter, a digit or an underscore.
group=probe_$(basename "$jemalloc" | sed 's/[^A-Za-z0-9_].*//')
perf probe -l 2>/dev/null | grep "$group:" >/dev/null || {
    echo "alloc-census.sh: no uprobe on $jemalloc could be set (perf probe needs root)" >&2
    exit 1
}

record_allocations() {
    perf record -e "$group:*" -g -p "$bench" -o "$output.data" -- sleep "$seconds"
}
BENCH_ENVIRONMENT=(MALLOC_CONF=stats_print:true,stats_print_opts:dxeh)
perf_during_bench census "$warmup" record_allocations

# jemalloc's merged totals: "total: allocated nmalloc (#/sec) ndalloc (#/sec) nrequests ...".
requests=$(awk '$1 == "total:" { print $7; exit }' "$output.out")
units=$(sed -n 's/^ *transitions: \([0-9]*\).*/\1/p' "$output.out" | head -n 1)
unit=transition
if [ -z "$units" ]; then
    # The end-to-end summary counts the run's sagas by how they ended.
    units=$(awk '$1 == "sagas" && ($2 == "completed" || $2 == "compensated" || $2 == "failed") { n += $3 } END { print n + 0 }' "$output.out")
    unit=saga
fi
if [ -n "$requests" ] && [ -n "$units" ] && [ "$units" -gt 0 ]; then
    echo "allocations: $requests over the run, $((requests / units)) per $unit (setup included)"
else
    echo "alloc-census.sh: no allocation total or no $unit count in $output.out" >&2
fi
echo "census: $output.txt ($(grep -c '^[^[:space:]]' "$output.txt") allocations recorded)"
