#!/usr/bin/env bash
# Installs `perf` (Debian's linux-perf) when it is missing; scripts/profile.sh and
# scripts/alloc-census.sh run it first. Idempotent.
set -euo pipefail
command -v perf >/dev/null 2>&1 && exit 0
echo "installing perf (linux-perf)" >&2
if [ "$(id -u)" -eq 0 ]; then
    apt-get install -y -qq linux-perf >/dev/null
else
    sudo apt-get install -y -qq linux-perf >/dev/null
fi
