#!/usr/bin/env bash
# Runs the benchmarks recorded in docs/benchmarks.md: builds `skald` in release
# mode, starts a throwaway Postgres (durable commits), runs each `skald bench`.
# The cluster is warmed (`scripts/postgres.sh warm`) before each benchmark that writes
# much: a new cluster's WAL files zeroed before first use and its first touch of shared
# memory are not what a running database pays.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

scripts/install-deps.sh
swift build -c release --product skald
skald="$(swift build -c release --show-bin-path)/skald"

cluster="bench-$$"
url=$(scripts/postgres.sh start "$cluster")
trap 'scripts/postgres.sh stop "$cluster"' EXIT

echo "== skald bench core";     "$skald" bench core
echo "== skald bench kafka";    "$skald" bench kafka
echo "== skald bench hops";     "$skald" bench hops --rate 100
scripts/postgres.sh warm "$cluster"
echo "== skald bench postgres"; "$skald" bench postgres --postgres "$url"
scripts/postgres.sh warm "$cluster"
echo "== skald bench orchestrator"; "$skald" bench orchestrator --postgres "$url" --sagas 20000
echo "== skald bench orchestrator --in-flight"; "$skald" bench orchestrator --postgres "$url" --in-flight 100000
scripts/postgres.sh warm "$cluster"
echo "== skald bench e2e";      "$skald" bench e2e --postgres "$url" --sagas 5000
