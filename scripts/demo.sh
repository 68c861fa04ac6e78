#!/usr/bin/env bash
# The demo: builds Skald in release mode and runs `skald demo`, which starts the
# Kafka mock cluster and a throwaway Postgres itself. Extra arguments go to it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

scripts/install-deps.sh
swift build -c release --product skald
exec "$(swift build -c release --show-bin-path)/skald" demo "$@"
