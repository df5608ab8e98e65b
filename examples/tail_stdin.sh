#!/bin/sh
# Fan every line of a log file out to subscribers, as it is written: each line
# is one message on the default channel (JSON lines as JSON, others as strings).
#
#   examples/tail_stdin.sh /var/log/app.log --port 8765 --history 1000
#   deno run --allow-net examples/subscribe.mjs ws://localhost:8765/
#
# Arguments after the file go to `fanout server` (--history N lets a
# subscriber that joins later replay with ?since=0). Set FANOUT to a compiled
# binary to use it instead of `deno task fanout`.
set -eu
if [ $# -lt 1 ]; then
  echo "usage: $0 LOGFILE [fanout server flags...]" >&2
  exit 2
fi
log=$1
shift
case $log in /*) ;; *) log="$PWD/$log" ;; esac
cd "$(dirname "$0")/.."
tail -n 10 -F "$log" | ${FANOUT:-deno task -q fanout} server --source stdin "$@"
