# Shared by scripts/profile.sh and scripts/alloc-census.sh (sourced, not run): parse
# `BINARY OUTPUT [BENCH [ARGS...]]`, run the benchmark on a fresh throwaway cluster, and record
# with `perf` in the middle of it.
#
# The cluster is warmed first (`scripts/postgres.sh warm`, 1 GB of WAL files), as
# scripts/bench-compare.sh does: a new cluster's first touch of its shared memory and its
# zero-filled WAL files would otherwise be in the profile (docs/benchmarks-e2e.md, session 26).
# COLD=1 profiles the new cluster as it is.
#
# The sourcing script sets `script` (its name, for messages) and `usage_lines` (the `sed`
# range of its header comment) before sourcing, then calls:
#
#   perf_bench_arguments "$@"                      # sets binary, output, bench_arguments
#   perf_during_bench CLUSTER WARMUP RECORDER...   # RECORDER runs with $bench set, after WARMUP s
#
# RECORDER writes "$output.data"; its messages go to "$output.perf.log". BENCH_ENVIRONMENT
# (an array of NAME=value) is set for the benchmark only. Afterwards "$output.txt" holds
# `perf script`'s output and "$output.out" the benchmark's.

# Reads the arguments; BENCH defaults to the words after `--` in `perf_bench_arguments`' caller.
perf_bench_arguments() {
    local default=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do default+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    [ $# -ge 2 ] || { sed -n "$usage_lines" "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
    binary=$1
    output=$2
    shift 2
    [ -x "$binary" ] || { echo "$script: $binary is not an executable" >&2; exit 66; }
    if [ $# -gt 0 ]; then bench_arguments=("$@"); else bench_arguments=("${default[@]}"); fi
}

perf_during_bench() {
    local cluster=$1 warmup=$2
    shift 2
    local root
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    "$root/scripts/ensure-perf.sh"
    bench=
    # Whatever happens (perf failing, Ctrl-C), the benchmark does not outlive the script, nor the
    # cluster. `|| true`: a benchmark that already ended must not stop the cleanup under `set -e`.
    # shellcheck disable=SC2064  # the cluster's name is fixed now
    trap "[ -z \"\$bench\" ] || kill \"\$bench\" 2>/dev/null || true; '$root/scripts/postgres.sh' stop $cluster >/dev/null 2>&1 || true" EXIT
    "$root/scripts/postgres.sh" stop "$cluster" >/dev/null 2>&1 || true
    local url
    url=$("$root/scripts/postgres.sh" start "$cluster")
    [ "${COLD:-0}" = 1 ] || "$root/scripts/postgres.sh" warm "$cluster" 1 >/dev/null

    env ${BENCH_ENVIRONMENT[@]+"${BENCH_ENVIRONMENT[@]}"} "$binary" bench "${bench_arguments[0]}" --postgres "$url" "${bench_arguments[@]:1}" \
        >"$output.out" 2>&1 &
    bench=$!
    sleep "$warmup"
    if ! kill -0 "$bench" 2>/dev/null; then
        echo "$script: the benchmark ended before the recording began; see $output.out" >&2
        exit 1
    fi
    if ! "$@" >/dev/null 2>"$output.perf.log"; then
        echo "$script: perf record failed:" >&2
        cat "$output.perf.log" >&2
        exit 1
    fi
    local status=0
    wait "$bench" || status=$?
    bench=
    [ "$status" -eq 0 ] || { echo "$script: the benchmark failed; see $output.out" >&2; exit 1; }
    perf script -i "$output.data" -F comm,ip,sym,dso >"$output.txt" 2>/dev/null
}
