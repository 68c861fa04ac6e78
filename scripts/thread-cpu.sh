#!/usr/bin/env bash
# Prints, every INTERVAL seconds until process PID exits, the CPU its threads named THREAD used
# and the CPU of the whole process, each as a percentage of one core (Linux, /proc).
#
#   scripts/thread-cpu.sh PID [THREAD] [INTERVAL]
#
#   .build/release/skald bench e2e --postgres "$url" --sagas 24000 --rate 200 &
#   scripts/thread-cpu.sh $! rdk:mock 10
#
# rdk:mock is the thread of librdkafka's mock cluster; rdk:broker1 those of the clients.
set -euo pipefail

pid=${1:?usage: thread-cpu.sh PID [THREAD] [INTERVAL]}
thread=${2:-rdk:mock}
interval=${3:-10}
ticks=$(getconf CLK_TCK)

# utime + stime of the threads called $thread, and of the whole process, in clock ticks.
sample() {
    local named=0 task fields
    for task in /proc/"$pid"/task/*; do
        [[ "$(cat "$task/comm" 2>/dev/null)" == "$thread" ]] || continue
        read -r -a fields < "$task/stat" || continue
        named=$((named + fields[13] + fields[14]))
    done
    read -r -a fields < /proc/"$pid"/stat
    echo "$named $((fields[13] + fields[14]))"
}

read -r named_before all_before < <(sample)
while sleep "$interval" && kill -0 "$pid" 2>/dev/null; do
    read -r named all < <(sample) || break
    per_core=$((ticks * interval))
    printf '%s  %s %3d %% of a core   process %3d %% of a core\n' "$(date +%T)" "$thread" \
        $(((named - named_before) * 100 / per_core)) $(((all - all_before) * 100 / per_core))
    named_before=$named
    all_before=$all
done
