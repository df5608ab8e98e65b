#!/usr/bin/env bash
# Keeps every core busy until it is stopped (SIGTERM/SIGINT) or, with
# --max-seconds N, for at most N seconds, so the test suite can be run on a
# machine that is doing other work, as CI does in its second pass.
# Usage: .ci/cpu_hog.sh [--max-seconds N] [cores] & hog=$!; …; kill "$hog"
set -u
max=0
if [ "${1:-}" = "--max-seconds" ]; then
  max=${2:-}
  shift 2 || true
  if ! [[ "$max" =~ ^[0-9]+$ ]] || [ "$max" -eq 0 ]; then
    echo "cpu_hog: --max-seconds must be a whole number of seconds above 0, got '${max}'" >&2
    exit 2
  fi
fi
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
if [ "$max" -gt 0 ]; then
  sleep "$max" &
  pids+=($!)
  wait $!
  stop
fi
wait
