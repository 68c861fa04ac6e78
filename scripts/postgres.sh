#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests, benchmarks and the demo.
#
#   scripts/postgres.sh start [NAME]   initdb + pg_ctl start; prints the URL
#   scripts/postgres.sh stop  [NAME]   stops it and removes its data
#   scripts/postgres.sh restart [NAME] a fast stop and a start (connections cut, back on return)
#   scripts/postgres.sh url   [NAME]   prints the URL of a running cluster
#   scripts/postgres.sh warm  [NAME] [GB]  readies a running cluster for a benchmark (below)
#
# The cluster listens on 127.0.0.1 and a unix socket, on a free port, with
# durable commits (fsync on), in .skald/postgres-NAME (or a temporary folder
# when the postgres OS user cannot reach the project folder). As root, the
# server runs as the `postgres` OS user because initdb refuses root.
#
# Shared memory in huge pages: as root on Linux, `start` reserves the 2MB pages the cluster's
# shared memory needs (vm.nr_hugepages, grown by what is missing) and `stop` gives them back,
# as a production database is set up. Set SKALD_POSTGRES_HUGE_PAGES=0 to leave the setting
# alone. Without them every backend maps each 8kB buffer it touches with a page fault of its
# own: 165,000 of them in a 20,000-saga burst (docs/benchmarks-e2e.md, session 28).
set -euo pipefail

cmd=${1:-}
name=${2:-default}
root=$(cd "$(dirname "$0")/.." && pwd)
state="$root/.skald"
pointer="$state/postgres-$name.dir"

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$pg_bin" ]; then
    echo "skald: PostgreSQL is not installed; run scripts/install-deps.sh" >&2
    exit 1
fi

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# A port no socket holds, below the kernel's ephemeral range where no `bind` to port 0 lands:
# the tests' in-process mock Kafka brokers get their ports that way, and a broker taken down
# keeps its port bound but not listening. A server that bound the same number with
# SO_REUSEADDR, as Postgres does, would take it, and librdkafka aborts the process whose
# broker cannot listen there again.
free_port() {
    python3 - <<'PY'
import random, socket
try:
    start = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except OSError:
    start = 0
candidates = [random.randrange(10000, start) for _ in range(200)] if start > 11000 else []
for port in candidates + [0]:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        print(s.getsockname()[1])
        break
    except OSError:
        pass
    finally:
        s.close()
PY
}

# Huge pages are counted machine-wide, and several clusters start and stop at once in the
# tests: the count changes and the server's start, which takes its pages, happen under one lock.
huge_pages_lock=/tmp/skald-postgres-huge-pages.lock

huge_pages_wanted() {
    [ "${SKALD_POSTGRES_HUGE_PAGES:-1}" != 0 ] && [ "$(id -u)" -eq 0 ] && [ -w /proc/sys/vm/nr_hugepages ]
}

# The pages the throwaway clusters added to the pool and have not given back, machine-wide (and
# since this boot): a stop gives back as many of them as are spare, whichever cluster added them.
# A count per cluster lost pages whenever one cluster's server ran on pages another had added (a
# start that gets fewer pages than it needs runs on ordinary ones and leaves its pages spare for
# the next) and the adder stopped first.
huge_pages_ledger=/tmp/skald-postgres-huge-pages.added

# Prints the ledger's count; 0 when there is none, or it was written before this boot.
ledger() {
    local boot='' owed=''
    { read -r boot owed < "$huge_pages_ledger"; } 2>/dev/null || true
    case "$owed" in '' | *[!0-9]*) owed=0 ;; esac
    [ "$boot" = "$(cat /proc/sys/kernel/random/boot_id)" ] || owed=0
    echo "$owed"
}

set_ledger() {
    echo "$(cat /proc/sys/kernel/random/boot_id) $1" > "$huge_pages_ledger"
}

# Prints a field of /proc/meminfo (HugePages_Free, HugePages_Rsvd, HugePages_Total).
meminfo() {
    awk -v key="$1:" '$1 == key { print $2 }' /proc/meminfo
}

# Grows vm.nr_hugepages until PAGES more are free and not yet promised to a server; best
# effort (the kernel may find fewer), which `huge_pages = try` then falls back from. Adds what
# it added to the ledger, and prints it: a pool the host reserved itself is used and left as it
# was.
reserve_huge_pages() {
    local pages=$1 spare before wanted
    spare=$(($(meminfo HugePages_Free) - $(meminfo HugePages_Rsvd)))
    before=$(meminfo HugePages_Total)
    if [ "$spare" -lt "$pages" ]; then
        wanted=$((before + pages - spare))
        { echo "$wanted" > /proc/sys/vm/nr_hugepages; } 2>/dev/null || true
        if [ "$(meminfo HugePages_Total)" -lt "$wanted" ]; then
            # Too few free 2MB blocks of memory: have the kernel compact it, then ask again.
            { echo 1 > /proc/sys/vm/compact_memory; } 2>/dev/null || true
            { echo "$wanted" > /proc/sys/vm/nr_hugepages; } 2>/dev/null || true
        fi
        if [ "$(meminfo HugePages_Total)" -lt "$wanted" ]; then
            echo "skald: the kernel found $(($(meminfo HugePages_Total) - before + spare)) of the $pages huge pages the server needs; it runs on ordinary pages" >&2
        fi
    fi
    local added=$(($(meminfo HugePages_Total) - before))
    [ "$added" -gt 0 ] || added=0
    set_ledger $(($(ledger) + added))
    echo "$added"
}

# The process id of the postmaster of the cluster in DIR; empty when none runs.
postmaster_pid() {
    head -n 1 "$1/data/postmaster.pid" 2>/dev/null || true
}

# Waits (at most 10 s) until process PID has exited. `pg_ctl stop -w` returns once the
# postmaster has removed postmaster.pid, which it does a moment before its process ends and the
# kernel frees its shared memory; pages given back or mapped again before that are not free
# yet. A zombie has freed its memory, so it counts as gone.
wait_for_exit() {
    local pid=$1 tries=0
    [ -n "$pid" ] || return 0
    while [ "$tries" -lt 100 ]; do
        local stat
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 0
        case "${stat##*) }" in Z*) return 0 ;; esac
        sleep 0.1
        tries=$((tries + 1))
    done
}

# Stops the server of the cluster in DIR (`pg_ctl stop -m fast`) and waits for its process to end.
stop_postmaster() {
    local dir=$1 pid
    pid=$(postmaster_pid "$dir")
    as_owner "$pg_bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
    wait_for_exit "$pid"
}

# Whether the cluster in DIR added pages to the pool that this user may give back.
holds_huge_pages() {
    [ -f "$1/huge_pages" ] && [ "$(id -u)" -eq 0 ] && [ -w /proc/sys/vm/nr_hugepages ]
}

# Stops the server of the cluster in DIR, if it runs, and gives back the spare pages the
# clusters added (if this one added some: its `huge_pages` file), whatever
# SKALD_POSTGRES_HUGE_PAGES says now. Both under the lock, so no start counts the freed pages as
# spare before they are given back.
stop_server() {
    local dir=$1 fd=
    if holds_huge_pages "$dir"; then
        exec {fd}>"$huge_pages_lock"
        flock "$fd"
    fi
    if [ -d "$dir/data" ]; then
        stop_postmaster "$dir"
    fi
    if [ -n "$fd" ]; then
        release_huge_pages
        rm -f "$dir/huge_pages"
        exec {fd}>&-
    fi
}

# Shrinks vm.nr_hugepages by the ledger's pages, as far as they are spare: never below what
# running servers hold or promised. Takes what it gave back off the ledger.
release_huge_pages() {
    local owed pages before
    owed=$(ledger)
    pages=$(($(meminfo HugePages_Free) - $(meminfo HugePages_Rsvd)))
    [ "$owed" -lt "$pages" ] && pages=$owed
    [ "$pages" -gt 0 ] || return 0
    before=$(meminfo HugePages_Total)
    { echo $((before - pages)) > /proc/sys/vm/nr_hugepages; } 2>/dev/null || true
    local given=$((before - $(meminfo HugePages_Total)))
    [ "$given" -gt 0 ] || given=0
    set_ledger $((owed > given ? owed - given : 0))
}

url_of() {
    local dir=$1
    local port
    port=$(cat "$dir/port")
    echo "postgres://postgres@127.0.0.1:$port/skald"
}

case "$cmd" in
start)
    mkdir -p "$state"
    if [ -f "$pointer" ] && [ -d "$(cat "$pointer")" ]; then
        dir=$(cat "$pointer")
        if as_owner "$pg_bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
            url_of "$dir"
            exit 0
        fi
        stop_server "$dir"
        rm -rf "$dir"
    fi
    dir="$state/postgres-$name"
    rm -rf "$dir"
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres "$dir"
        if ! runuser -u postgres -- test -w "$dir"; then
            rm -rf "$dir"
            dir=$(mktemp -d "/tmp/skald-postgres-$name.XXXXXX")
            chown postgres "$dir"
        fi
    fi
    echo "$dir" > "$pointer"
    port=$(free_port)
    echo "$port" > "$dir/port"
    # initdb's own server processes map shared memory with `huge_pages = try`, PostgreSQL 15's
    # initdb cannot be told otherwise, and they would take spare pages that a start running at
    # the same time had just reserved for its server, which then runs on ordinary pages (seen in
    # the tests, where clusters start side by side). So initdb runs under the huge-page lock
    # too, whether or not this cluster wants huge pages.
    initdb_lock=
    if [ "$(id -u)" -eq 0 ] && [ -w /proc/sys/vm/nr_hugepages ]; then
        exec {initdb_lock}>"$huge_pages_lock"
        flock "$initdb_lock"
    fi
    run_initdb() {
        as_owner "$pg_bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1
    }
    if [ -n "$initdb_lock" ]; then
        initialized=0; run_initdb {initdb_lock}>&- || initialized=$?
        exec {initdb_lock}>&-
    else
        initialized=0; run_initdb || initialized=$?
    fi
    [ "$initialized" -eq 0 ] || {
        cat "$dir/initdb.log" >&2
        exit 1
    }
    # min_wal_size: while pg_wal holds less than this, a checkpoint keeps used WAL files for
    # reuse instead of removing them, whatever its estimate of the WAL to come; so the files
    # `warm` made stay through a benchmark's own CHECKPOINT. A cluster that never writes that
    # much never holds it.
    # max_wal_size: a benchmark writes 0.4-2 GB of WAL per measurement; with 2GB a checkpoint
    # fell inside every second or third one (a full page image for every page touched after it),
    # and those measured a quarter of the others. WAL is recycled, so this is a cap, not a cost.
    cat >> "$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 300
shared_buffers = 512MB
fsync = on
synchronous_commit = on
max_wal_size = 8GB
min_wal_size = 2GB
log_min_messages = warning
huge_pages = $([ "${SKALD_POSTGRES_HUGE_PAGES:-1}" = 0 ] && echo off || echo try)
CONF
    lock=
    if huge_pages_wanted; then
        exec {lock}>"$huge_pages_lock"
        flock "$lock"
        # What the server will map, counted by the server itself (PostgreSQL 15 and later).
        pages=$(as_owner "$pg_bin/postgres" -D "$dir/data" -C shared_memory_size_in_huge_pages 2>/dev/null || echo 0)
        case "$pages" in '' | *[!0-9]*) pages=0 ;; esac
        reserve_huge_pages "$pages" > "$dir/huge_pages"
    fi
    # The server must not inherit the lock's descriptor: it would hold the lock for its lifetime.
    start_server() {
        if [ -n "$lock" ]; then
            as_owner "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start {lock}>&-
        else
            as_owner "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start
        fi
    }
    start_server >/dev/null || {
        cat "$dir/server.log" >&2
        [ -z "$lock" ] || release_huge_pages
        rm -f "$dir/huge_pages"
        exit 1
    }
    [ -z "$lock" ] || exec {lock}>&-
    as_owner "$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U postgres skald
    url_of "$dir"
    ;;
stop)
    [ -f "$pointer" ] || exit 0
    dir=$(cat "$pointer")
    stop_server "$dir"
    rm -rf "$dir" "$pointer"
    ;;
restart)
    # A fast stop and a start: every connection is cut, the server is back when this returns.
    # Not `pg_ctl restart`, whose new server may come up before the old one's shared memory is
    # freed, and then finds no huge pages. Under the huge-page lock, so no start takes the pages
    # while the server is down.
    [ -f "$pointer" ] || { echo "skald: no cluster named $name is running" >&2; exit 1; }
    dir=$(cat "$pointer")
    if holds_huge_pages "$dir"; then
        exec {lock}>"$huge_pages_lock"
        flock "$lock"
        stop_postmaster "$dir"
        as_owner "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start {lock}>&- >/dev/null
        exec {lock}>&-
    else
        stop_postmaster "$dir"
        as_owner "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null
    fi
    ;;
url)
    [ -f "$pointer" ] || { echo "skald: no cluster named $name is running" >&2; exit 1; }
    url_of "$(cat "$pointer")"
    ;;
warm)
    # A new cluster pays twice for what a database that has run for a while does not: it
    # writes every 16MB WAL file full of zeros before its first use (until its first
    # checkpoint; later ones recycle used files instead), and the kernel zeroes each page of
    # shared_buffers the first time a backend touches it. In a 20,000-saga burst on a new
    # cluster that was a tenth of the machine's CPU (docs/benchmarks-e2e.md, session 26).
    # So: write GB gigabytes of WAL files (2 by default: 64 switches to a new 16MB file per
    # GB), let a checkpoint keep them for reuse, and touch every shared buffer once by reading
    # a scratch table as large as shared_buffers into them. About 2 s per GB, and 2 s more.
    # A run that writes more WAL than that creates files again, and its summary says how many.
    gigabytes=${3:-2}
    case "$gigabytes" in
        '' | *[!0-9]* | 0) echo "skald: warm takes a whole number of gigabytes of WAL, 1 or more" >&2; exit 2 ;;
    esac
    [ -f "$pointer" ] || { echo "skald: no cluster named $name is running" >&2; exit 1; }
    url=$(url_of "$(cat "$pointer")")
    # The scratch table: shared_buffers counts 8kB pages; a row of 1,900 bytes takes 1,932 with
    # its header and line pointer, so 4 rows fill a page and pages x 4 rows fill the buffers.
    # Longer rows would pass TOAST's 2kB threshold, compress to nearly nothing and fill none.
    # pg_prewarm is dropped again only if this created it.
    "$pg_bin/psql" -q -X -v ON_ERROR_STOP=1 -v switches=$((gigabytes * 64)) "$url" >/dev/null <<'SQL'
SET client_min_messages = warning;
DROP TABLE IF EXISTS skald_warm_buffers;
SELECT format('DO $$ BEGIN FOR n IN 1..%s LOOP PERFORM pg_logical_emit_message(false, %L, %L); PERFORM pg_switch_wal(); END LOOP; END $$', :'switches', 'skald-warm', 'x') AS switching \gset
:switching;
CHECKPOINT;
SELECT NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_prewarm') AS prewarm_created \gset
CREATE EXTENSION IF NOT EXISTS pg_prewarm;
CREATE UNLOGGED TABLE skald_warm_buffers AS
    SELECT repeat('x', 1900) AS filler
    FROM generate_series(1, (SELECT setting::bigint * 4 FROM pg_settings WHERE name = 'shared_buffers'));
SELECT pg_prewarm('skald_warm_buffers');
DROP TABLE skald_warm_buffers;
\if :prewarm_created
DROP EXTENSION pg_prewarm;
\endif
SQL
    ;;
datadir)
    [ -f "$pointer" ] || { echo "skald: no cluster named $name is running" >&2; exit 1; }
    echo "$(cat "$pointer")/data"
    ;;
*)
    echo "usage: scripts/postgres.sh start|stop|restart|url|datadir [NAME], or warm [NAME] [GB]" >&2
    exit 2
    ;;
esac
