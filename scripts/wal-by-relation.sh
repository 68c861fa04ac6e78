#!/usr/bin/env bash
# Counts the WAL records one benchmark run writes, by kind and by table or index.
#
#   scripts/wal-by-relation.sh BINARY [BENCH [ARGS...]]
#
#   scripts/wal-by-relation.sh .build/release/skald
#   scripts/wal-by-relation.sh /tmp/skald-before e2e --sagas 5000
#
# BENCH defaults to `e2e --sagas 5000`. The benchmark runs on a freshly created, warmed
# throwaway cluster (`scripts/postgres.sh`, cluster `walcount`); `pg_waldump` then reads every
# record between the WAL positions before and after the run, and the table below names each
# record's first relation (a table, an index, or a relfilenode when it has none), most records
# first. Prints the benchmark's throughput and WAL lines, the 60 largest rows, and the total.
# Every record costs Postgres CPU to build, checksum and insert, and what a change to the
# statements saves shows here exactly, where throughput moves with the machine's hour
# (docs/benchmarks-e2e.md, session 27).
set -euo pipefail

binary=${1:?usage: scripts/wal-by-relation.sh BINARY [BENCH [ARGS...]]}
shift
if [ $# -eq 0 ]; then set -- e2e --sagas 5000; fi
root=$(cd "$(dirname "$0")/.." && pwd)
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
work=$(mktemp -d)
trap 'rm -rf "$work"; "$root/scripts/postgres.sh" stop walcount >/dev/null 2>&1 || true' EXIT

"$root/scripts/postgres.sh" stop walcount >/dev/null 2>&1 || true
url=$("$root/scripts/postgres.sh" start walcount)
"$root/scripts/postgres.sh" warm walcount 1 >/dev/null
start=$("$pg_bin/psql" -X -Atc "SELECT pg_current_wal_lsn()" "$url")
"$binary" bench "$@" --postgres "$url" 2>&1 | grep -E "throughput|WAL per|result:" || true
end=$("$pg_bin/psql" -X -Atc "SELECT pg_current_wal_lsn()" "$url")
"$pg_bin/psql" -X -Atc "SELECT c.relfilenode, n.nspname || '.' || c.relname FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relfilenode <> 0" "$url" > "$work/names"
datadir=$("$root/scripts/postgres.sh" datadir walcount)
owner=$(stat -c %U "$datadir")
runuser -u "$owner" -- "$pg_bin/pg_waldump" -p "$datadir/pg_wal" --start "$start" --end "$end" 2>/dev/null > "$work/records" || true

# A record line: `rmgr: Heap len (rec/tot): …, desc: INSERT off 3 …, blkref #0: rel 1663/16384/16423 blk 7`.
awk '
    NR == FNR { split($0, pair, "|"); names[pair[1]] = pair[2]; next }
    {
        manager = $2; sub(/,$/, "", manager); kind = ""; relation = ""
        for (i = 1; i <= NF; i++) {
            if ($i == "desc:") kind = $(i + 1)
            if ($i == "rel" && relation == "") { split($(i + 1), parts, "/"); relation = parts[3] }
        }
        name = (relation in names) ? names[relation] : (relation == "" ? "-" : relation)
        count[manager " " kind " " name]++; total++
    }
    END {
        for (key in count) printf "%9d  %s\n", count[key], key
        printf "%9d  total\n", total > "/dev/stderr"
    }
' "$work/names" "$work/records" 2> "$work/total" | sort -rn | head -60
cat "$work/total"
