#!/usr/bin/env bash
# Compares two `skald` binaries on one benchmark, in alternating runs.
#
#   scripts/bench-compare.sh [--runs N] [--cold] BINARY_A BINARY_B BENCH [ARGS...]
#
#   scripts/bench-compare.sh --runs 4 /tmp/skald-before .build/release/skald e2e --sagas 20000
#   scripts/bench-compare.sh /tmp/skald-before .build/release/skald orchestrator --sagas 20000 --pgbench-seconds 0
#
# Each round runs both binaries, in an order drawn at random, each on a freshly created
# throwaway Postgres cluster (`scripts/postgres.sh`, cluster `compare`), warmed first
# (`scripts/postgres.sh warm`: WAL files ready for reuse, shared buffers touched) unless
# --cold is given. On the project's 2-core machines two runs of one binary differ by up to a
# fifth within minutes, and in some hours whichever binary runs first in a pair wins
# (docs/benchmarks-e2e.md, session 15), so one pair says little: the summary gives each
# binary's runs, their median, and how often each won its round.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

usage() {
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

runs=3
warm=1
while [ $# -gt 0 ]; do
    case "$1" in
        --runs)
            runs=${2:-}
            shift 2 || usage
            case "$runs" in
                '' | *[!0-9]* | 0) echo "bench-compare: --runs takes a number of rounds, 1 or more" >&2; exit 2 ;;
            esac
            ;;
        --cold)
            warm=0
            shift
            ;;
        -*) usage ;;
        *) break ;;
    esac
done
[ $# -ge 3 ] || usage
# Absolute paths, since the runs start from the project folder.
resolve() {
    case "$1" in
        */*)
            local dir
            dir=$(cd "$(dirname "$1")" && pwd) || return 1
            echo "${dir%/}/$(basename "$1")"
            ;;
        *) command -v "$1" || echo "$1" ;;
    esac
}
binary_a=$(resolve "$1")
binary_b=$(resolve "$2")
bench=$3
shift 3
for binary in "$binary_a" "$binary_b"; do
    if [ ! -x "$binary" ] || [ -d "$binary" ]; then
        echo "bench-compare: $binary is not an executable" >&2
        exit 2
    fi
done
cd "$root"
case "$bench" in
    e2e | orchestrator) ;;
    *)
        echo "bench-compare: BENCH is e2e or orchestrator, not '$bench'" >&2
        exit 2
        ;;
esac

results=$(mktemp)
trap 'scripts/postgres.sh stop compare >/dev/null 2>&1 || true; rm -f "$results"' EXIT

# One run: prints "rate process_us postgres_us", or fails with the run's output.
run_one() {
    local binary=$1 output rate cpu
    shift
    scripts/postgres.sh stop compare >/dev/null 2>&1 || true
    sync
    sleep 2
    local url
    if ! url=$(scripts/postgres.sh start compare) || [ -z "$url" ]; then
        echo "bench-compare: the throwaway Postgres cluster did not start" >&2
        return 1
    fi
    if [ "$warm" = 1 ] && ! scripts/postgres.sh warm compare; then
        echo "bench-compare: warming the throwaway Postgres cluster failed" >&2
        return 1
    fi
    if ! output=$("$binary" bench "$bench" --postgres "$url" "$@" 2>&1); then
        echo "$output" >&2
        return 1
    fi
    scripts/postgres.sh stop compare >/dev/null 2>&1 || true
    if [ "$bench" = e2e ]; then
        rate=$(echo "$output" | sed -n 's/^ *throughput *\([0-9]*\) sagas\/s.*/\1/p')
        cpu=$(echo "$output" | sed -n 's/^ *CPU per saga *\([0-9]*\) µs in this process, \([0-9]*\) µs in Postgres.*/\1 \2/p')
    else
        rate=$(echo "$output" | sed -n 's/^ *[0-9.]* s: [0-9]* sagas\/s, \([0-9]*\) transitions\/s.*/\1/p' | tail -n 1)
        cpu=$(echo "$output" | sed -n 's/^ *CPU per transition: \([0-9]*\) µs in this process.*, \([0-9]*\) µs in Postgres.*/\1 \2/p')
    fi
    if [ -z "$rate" ] || [ -z "$cpu" ]; then
        echo "bench-compare: no result in the output of $binary:" >&2
        echo "$output" >&2
        return 1
    fi
    echo "$rate $cpu"
}

for round in $(seq 1 "$runs"); do
    if [ $((RANDOM % 2)) -eq 0 ]; then order="a b"; else order="b a"; fi
    position=1
    for which in $order; do
        if [ "$which" = a ]; then binary=$binary_a; else binary=$binary_b; fi
        result=$(run_one "$binary" "$@")
        echo "round $round: $which ($binary) ran $position: $result" >&2
        echo "$round $which $position $result" >>"$results"
        position=2
    done
done

python3 - "$results" "$bench" "$binary_a" "$binary_b" <<'EOF'
import statistics, sys
path, bench, binary_a, binary_b = sys.argv[1:5]
unit = "sagas/s" if bench == "e2e" else "transitions/s"
per = "saga" if bench == "e2e" else "transition"
rows = [line.split() for line in open(path)]
by = {"a": [], "b": []}
rounds = {}
for round_, which, position, rate, process, postgres in rows:
    by[which].append((int(rate), int(process), int(postgres), int(position)))
    rounds.setdefault(round_, {})[which] = (int(rate), int(position))
for which, binary in (("a", binary_a), ("b", binary_b)):
    runs = by[which]
    rates = [r[0] for r in runs]
    print(f"{which}: {binary}")
    print(f"   {unit}: {', '.join(map(str, rates))}  (median {statistics.median(rates):.0f})")
    print(f"   CPU per {per}, process + Postgres, µs: "
          + ", ".join(f"{r[1]} + {r[2]}" for r in runs)
          + f"  (medians {statistics.median(r[1] for r in runs):.0f} + {statistics.median(r[2] for r in runs):.0f})")
wins = {"a": 0, "b": 0}
ties = 0
first_wins = 0
for pair in rounds.values():
    if pair["a"][0] == pair["b"][0]:
        ties += 1
        continue
    winner = "a" if pair["a"][0] > pair["b"][0] else "b"
    wins[winner] += 1
    if pair[winner][1] == 1:
        first_wins += 1
decided = len(rounds) - ties
print(f"rounds won: a {wins['a']}, b {wins['b']}" + (f", tied {ties}" if ties else "")
      + f"; the binary that ran first won {first_wins} of {decided}")
EOF
