#!/usr/bin/env bash
# Prints, every INTERVAL seconds until process PID exits, the CPU its threads whose name starts
# with PREFIX used and the CPU of the whole process, each as a percentage of one core (Linux, /proc).
#
#   scripts/thread-cpu.sh PID [PREFIX] [INTERVAL]
#
#   .build/release/skald bench e2e --postgres "$url" --sagas 24000 --rate 200 &
#   scripts/thread-cpu.sh $! rdk:mock 10
#
# rdk:mock is the thread of librdkafka's mock cluster; rdk: alone matches every librdkafka thread.
# Each thread counts from the previous sample or from its start; threads that ended in between
# are left out.
set -euo pipefail

pid=${1:?usage: thread-cpu.sh PID [PREFIX] [INTERVAL]}
prefix=${2:-rdk:mock}
interval=${3:-10}
[[ "$interval" =~ ^[1-9][0-9]*$ ]] || { echo "thread-cpu.sh: INTERVAL must be a whole number of seconds" >&2; exit 64; }
[[ -r /proc/$pid/stat ]] || { echo "thread-cpu.sh: no process $pid" >&2; exit 66; }
ticks=$(getconf CLK_TCK)

# utime + stime in clock ticks from a stat file; the fields after the command name, which may hold spaces.
cpu_ticks() {
    local line rest
    read -r line < "$1" || return 1
    rest=${line##*) }
    read -r -a fields <<< "$rest"
    echo $((fields[11] + fields[12]))
}

declare -A before
process_before=$(cpu_ticks /proc/"$pid"/stat)
for task in /proc/"$pid"/task/*; do
    [[ "$(cat "$task/comm" 2>/dev/null)" == "$prefix"* ]] && before[${task##*/}]=$(cpu_ticks "$task/stat" 2>/dev/null || echo 0)
done
while sleep "$interval" && kill -0 "$pid" 2>/dev/null; do
    named=0
    declare -A now=()
    for task in /proc/"$pid"/task/*; do
        [[ "$(cat "$task/comm" 2>/dev/null)" == "$prefix"* ]] || continue
        id=${task##*/}
        used=$(cpu_ticks "$task/stat" 2>/dev/null) || continue
        now[$id]=$used
        spent=$((used - ${before[$id]:-0}))
        ((spent > 0)) && named=$((named + spent))
    done
    process_now=$(cpu_ticks /proc/"$pid"/stat) || break
    per_core=$((ticks * interval))
    printf '%s  %s* %3d %% of a core   process %3d %% of a core\n' "$(date +%T)" "$prefix" \
        $((named * 100 / per_core)) $(((process_now - process_before) * 100 / per_core))
    unset before
    declare -A before=()
    for id in "${!now[@]}"; do before[$id]=${now[$id]}; done
    unset now
    process_before=$process_now
done
