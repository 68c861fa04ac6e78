#!/usr/bin/env bash
# Profiles one benchmark run of a `skald` binary: a system-wide `perf record` in the middle of it.
#
#   scripts/profile.sh BINARY OUTPUT [BENCH [ARGS...]]
#
#   scripts/profile.sh /tmp/skald-before /tmp/before
#   scripts/profile.sh .build/release/skald /tmp/after orchestrator --sagas 30000 --pgbench-seconds 0
#   scripts/profile-shares.py /tmp/before.txt /tmp/after.txt swift_retain ProducerCore.produce
#
# BENCH defaults to `orchestrator --sagas 30000 --pgbench-seconds 0`. The benchmark runs on a
# freshly created throwaway cluster (`scripts/postgres.sh`, cluster `profile`), warmed first
# (COLD=1 skips that); after WARMUP seconds (6) `perf record -a -F 999 -g` samples every CPU for
# SECONDS_SAMPLED (12), so Postgres and the mock broker are in the profile too. Writes OUTPUT.data (perf's), OUTPUT.txt (`perf script`,
# what scripts/profile-shares.py reads), OUTPUT.out (the benchmark's summary) and
# OUTPUT.perf.log (perf's own messages).
#
# On this project's 2-core machines two runs of one binary differ in throughput by up to a fifth,
# while the share of samples a function takes moves far less: compare two binaries by the
# shares of the functions a change touched (docs/benchmarks-orchestrator.md, sessions 21 and 22).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
script=profile.sh
usage_lines=2,18p
# shellcheck source=lib/perf-during-bench.sh
. "$root/scripts/lib/perf-during-bench.sh"

perf_bench_arguments orchestrator --sagas 30000 --pgbench-seconds 0 -- "$@"
warmup=${WARMUP:-6}
seconds=${SECONDS_SAMPLED:-12}

record_every_cpu() {
    perf record -a -F 999 -g -o "$output.data" -- sleep "$seconds"
}
perf_during_bench profile "$warmup" record_every_cpu
grep -E "transitions/s|sagas/s|µs" "$output.out" || true
echo "profile: $output.txt"
