#!/usr/bin/env bash
# Keeps every core busy until it is stopped (SIGTERM/SIGINT), so the test
# suite can be run on a machine that is doing other work, as CI does in its
# second pass. Usage: .ci/cpu_hog.sh [cores] & hog=$!; …; kill "$hog"
set -u
cores=${1:-$(nproc)}
pids=()
stop() {
  kill "${pids[@]}" 2>/dev/null
  wait 2>/dev/null
  exit 0
}
trap stop TERM INT
for _ in $(seq "$cores"); do
  yes >/dev/null &
  pids+=($!)
done
echo "cpu_hog: ${cores} busy loops (pids ${pids[*]})"
wait
