#!/usr/bin/env bash
# Says, in a few lines, why a test run failed: the tests that were still running when the process
# ended (a crash ends them all at once), the crashed thread's first frames, the tests that
# failed, and what the crash printed.
#
#   scripts/test-log-summary.sh LOG
#
# `scripts/test.sh` runs it on its own log after a failed run. A CI page often shows only the
# last twenty-odd lines of the output, so the most telling come last: what the crash printed,
# then the failed tests.
set -euo pipefail
log=${1:?usage: scripts/test-log-summary.sh LOG}
[ -r "$log" ] || { echo "skald: no test log at $log" >&2; exit 2; }
given=$log
# Without colour codes, which Swift Testing writes to a terminal, so the patterns below match.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
sed 's/\x1b\[[0-9;]*m//g' "$given" > "$log"

echo
echo "==== skald: why the test run failed (the whole output: $given) ===="

echo "-- tests that started and never finished (running when the process ended; latest start last):"
# Swift Testing prints `◇ Test NAME started.` and later `✔ Test NAME passed after …` or
# `✘ Test NAME failed after …`; a name with a start and no end was cut off. The cases of a
# parameterized test print a start and no end (the test's own end says `with N test cases`), so
# only the test itself counts.
awk '
    /^◇ Test (case passing |run started\.$)/ { next }
    /^◇ Test .* started\.$/ {
        name = substr($0, length("◇ Test ") + 1); sub(/ started\.$/, "", name)
        running[name] = NR
    }
    /^(✔|✘) Test .* (passed|failed) after [0-9.]+ seconds/ {
        name = substr($0, index($0, "Test ") + 5); sub(/( with [0-9]+ test cases?)? (passed|failed) after [0-9.]+ seconds.*$/, "", name)
        delete running[name]
    }
    END {
        found = 0
        for (name in running) { print running[name] "\t   " name; found = 1 }
        if (!found) print "0\t   (none)"
    }
' "$log" | sort -n | cut -f2- | cut -c1-200 | tail -n 15

echo "-- the crashed thread's first frames:"
frames=$(awk '
    /^Thread [0-9]+/ { show = ($0 ~ /crashed:$/) }
    show && /^ *[0-9]+ / { print; if (++shown == 10) exit }
' "$log" | cut -c1-200)
echo "${frames:-   (no crash report)}"

echo "-- tests that failed or recorded an issue:"
failed=$(grep -a -E '^✘ (Test|Suite) ' "$log" | grep -a -v -E '^✘ Test run ' | cut -c1-300 | head -n 8 || true)
echo "${failed:-   (none)}"

echo "-- what the crash printed (assertions, fatal errors):"
crash=$(grep -a -E 'Assertion .* failed|Fatal error|Precondition failed|Program crashed|Application bug|double free|corrupted|Segmentation fault|Illegal instruction|Aborted' "$log" | cut -c1-300 | head -n 5 || true)
echo "${crash:-   (nothing: the run ended without a crash report)}"
echo "==== end of skald's summary ===="
