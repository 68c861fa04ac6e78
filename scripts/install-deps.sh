#!/usr/bin/env bash
# Installs the system packages Skald needs, only those that are missing.
# Safe to run again and again: a machine that has everything is left alone.
set -euo pipefail

# python3: scripts/postgres.sh picks free ports with it.
packages=(librdkafka-dev libpq-dev libjemalloc-dev postgresql pkg-config python3)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "skald: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's postgresql package starts a system cluster; Skald uses its own throwaway ones.
if command -v pg_lsclusters >/dev/null 2>&1 && [ -z "${SKALD_KEEP_SYSTEM_POSTGRES:-}" ]; then
    $sudo service postgresql stop >/dev/null 2>&1 || true
fi
