#!/usr/bin/env bash
# The whole test suite: installs what is missing, starts a throwaway Postgres,
# runs every test against it and the in-process Kafka mock, and cleans up.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

scripts/install-deps.sh
cluster="test-$$"
url=$(scripts/postgres.sh start "$cluster")
trap 'scripts/postgres.sh stop "$cluster"' EXIT

export SKALD_TEST_POSTGRES_URL="$url"
export SKALD_TEST_POSTGRES_DATADIR="$(scripts/postgres.sh datadir "$cluster")"
echo "skald: test Postgres at $url" >&2

swift build --build-tests "$@"
swift test --skip-build "$@"
