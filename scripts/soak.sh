#!/usr/bin/env bash
# Soak test: many connections against `wsd echo` on loopback for a set time.
#   scripts/soak.sh [DURATION] [CONNECTIONS] [extra soak flags...]
# e.g. scripts/soak.sh 10m 10000. Stops by itself; prints the report.
# ENGINE=epoll runs the server on the event-loop engine, ENGINE=uring on
# the engine over io_uring.
set -euo pipefail
cd "$(dirname "$0")/.."
d=${1:-1m}
n=${2:-10000}
shift $(( $# > 2 ? 2 : $# ))
ulimit -n "$(ulimit -Hn)"
tmp=$(mktemp -d)
go build -o "$tmp/wsd" ./cmd/wsd
go build -o "$tmp/soak" ./internal/cmd/soak
"$tmp/wsd" echo -debug -engine "${ENGINE:-goroutine}" -addr 127.0.0.1:0 >"$tmp/echo.out" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do grep -q listening "$tmp/echo.out" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$tmp/echo.out")
addr=${url#ws://}
"$tmp/soak" -url "$url/" -pid "$pid" -debug "http://$addr/debug/vars" -conns "$n" -d "$d" "$@"
status=$?
kill -TERM $pid
wait $pid || true
exit $status
