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

# A crash report without registers and the list of loaded images: shorter, so the summary below
# stays near the end of the output, where a CI page shows it.
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=yes,registers=none,images=none}"
log="$root/.build/skald-test.log"
set +e
swift test --skip-build "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
    scripts/test-log-summary.sh "$log" || true
fi
exit "$status"
