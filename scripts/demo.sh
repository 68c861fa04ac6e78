#!/usr/bin/env bash
# The demo: builds Skald in release mode, starts a throwaway Postgres and runs
# `skald demo` against it (the Kafka mock cluster runs inside the demo process).
# Extra arguments go to `skald demo`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

scripts/install-deps.sh
swift build -c release --product skald
skald="$(swift build -c release --show-bin-path)/skald"

cluster="demo-$$"
url=$(scripts/postgres.sh start "$cluster")
trap 'scripts/postgres.sh stop "$cluster"' EXIT

"$skald" demo --postgres "$url" --migrations "$root/schemas/postgres" "$@"
