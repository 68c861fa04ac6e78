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
# freshly created throwaway cluster (`scripts/postgres.sh`, cluster `profile`); after WARMUP
# seconds (6) `perf record -a -F 999 -g` samples every CPU for SECONDS_SAMPLED (12), so Postgres and the
# mock broker are in the profile too. Writes OUTPUT.data (perf's), OUTPUT.txt (`perf script`,
# what scripts/profile-shares.py reads), OUTPUT.out (the benchmark's summary) and
# OUTPUT.perf.log (perf's own messages).
#
# On this project's 2-core machines two runs of one binary differ in throughput by up to a fifth,
# while the share of samples a function takes moves far less: compare two binaries by the
# shares of the functions a change touched (docs/benchmarks-orchestrator.md, sessions 21 and 22).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

[ $# -ge 2 ] || { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
binary=$1
output=$2
shift 2
[ -x "$binary" ] || { echo "profile.sh: $binary is not an executable" >&2; exit 66; }
[ $# -gt 0 ] || set -- orchestrator --sagas 30000 --pgbench-seconds 0
warmup=${WARMUP:-6}
seconds=${SECONDS_SAMPLED:-12}

if ! command -v perf >/dev/null 2>&1; then
    echo "profile.sh: installing perf (linux-perf)" >&2
    if [ "$(id -u)" -eq 0 ]; then apt-get install -y -qq linux-perf >/dev/null; else sudo apt-get install -y -qq linux-perf >/dev/null; fi
fi

bench=
# Whatever happens (perf failing, Ctrl-C), the benchmark does not outlive the script, nor the cluster.
# `|| true`: a benchmark that already ended must not stop the cleanup under `set -e`.
trap '[ -z "$bench" ] || kill "$bench" 2>/dev/null || true; "$root/scripts/postgres.sh" stop profile >/dev/null 2>&1 || true' EXIT
"$root/scripts/postgres.sh" stop profile >/dev/null 2>&1 || true
url=$("$root/scripts/postgres.sh" start profile)

"$binary" bench "$1" --postgres "$url" "${@:2}" >"$output.out" 2>&1 &
bench=$!
sleep "$warmup"
if ! kill -0 "$bench" 2>/dev/null; then
    echo "profile.sh: the benchmark ended before the profile began; see $output.out" >&2
    exit 1
fi
if ! perf record -a -F 999 -g -o "$output.data" -- sleep "$seconds" >/dev/null 2>"$output.perf.log"; then
    echo "profile.sh: perf record failed:" >&2
    cat "$output.perf.log" >&2
    exit 1
fi
status=0
wait "$bench" || status=$?
bench=
[ "$status" -eq 0 ] || { echo "profile.sh: the benchmark failed; see $output.out" >&2; exit 1; }
perf script -i "$output.data" -F comm,ip,sym,dso >"$output.txt" 2>/dev/null
grep -E "transitions/s|sagas/s|µs" "$output.out" || true
echo "profile: $output.txt"
