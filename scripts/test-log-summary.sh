#!/usr/bin/env bash
# Says, in a few lines, why a test run failed: the tests that failed, the tests that were still
# running when the process ended (a crash ends them all at once), and what the crash printed.
#
#   scripts/test-log-summary.sh LOG
#
# `scripts/test.sh` runs it on its own log after a failed run, so that the end of the output,
# which is often all a CI page shows, names the culprit instead of ending in a list of images.
set -euo pipefail
log=${1:?usage: scripts/test-log-summary.sh LOG}
[ -r "$log" ] || { echo "skald: no test log at $log" >&2; exit 2; }

echo
echo "==== skald: why the test run failed (from $log) ===="

echo
echo "-- tests that failed or recorded an issue:"
grep -a -E '^✘ (Test|Suite) ' "$log" | grep -a -v -E '^✘ Test run ' | cut -c1-300 | head -40 || echo "   (none)"

echo
echo "-- tests that started and never finished (running when the process ended; earliest start first):"
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
' "$log" | sort -n | cut -f2- | cut -c1-300 | head -60

echo
echo "-- what the crash printed (assertions, fatal errors, the crashed thread):"
crash=$(grep -a -n -E 'Assertion .* failed|Fatal error|Precondition failed|Program crashed|Application bug|double free|corrupted|Segmentation fault|Illegal instruction|Aborted' "$log" | cut -c1-400 | head -20 || true)
if [ -z "$crash" ]; then
    echo "   (nothing: the run ended without a crash report)"
else
    echo "$crash"
    # The crashed thread's first frames: enough to see whose code aborted.
    awk '/^Thread [0-9]+ .*crashed:$/ { show = 1; shown = 0 } show && shown < 30 { print; shown++ }' "$log" | cut -c1-300
fi
echo "==== end of skald's summary ===="
