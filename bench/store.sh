#!/bin/sh
# store.sh - run the xvmstored benchmark against a fresh daemon (data file on the real disk).
# usage: bench/store.sh [BUILD_DIR] [SECONDS]
set -eu
BUILD=${1:-build}
SECS=${2:-2}
DIR=$(mktemp -d "${TMPDIR:-/var/tmp}/xvmstore-bench.XXXXXX")
"$BUILD/store/xvmstored" --socket "$DIR/sock" --db "$DIR/store.db" --foreground &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DIR"' EXIT
i=0
while [ ! -S "$DIR/sock" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
echo "xvmstored benchmark: $(nproc) CPUs, data file in $DIR ($(df -h "$DIR" | awk 'NR==2 {print $1}'))"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
"$BUILD/bench/store_bench" "$DIR/sock" "$SECS" "$DIR"
