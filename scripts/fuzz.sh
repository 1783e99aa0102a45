#!/usr/bin/env bash
# Runs every fuzz target for the given time each (default 1m), e.g.
#   scripts/fuzz.sh 10m
# Failing inputs are written by go test under the package's testdata/fuzz,
# where plain `go test` replays them from then on.
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-1m}
status=0
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "== $pkg $target ($t)"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$t" "$pkg" || status=1
	done
done
exit $status
