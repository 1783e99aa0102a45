#!/usr/bin/env bash
# Runs the interop suite, the chat demo's end-to-end test, Chromium's
# WebSockets over HTTP/2 and the browser client's test (wsd built for
# GOOS=js GOARCH=wasm, in Chromium).
#
#   bash interop/run.sh [-o MATRIX.md] [-s SCREENSHOT.png] [-k REGEX]
#
# -o writes the matrix of results (docs/interop.md), -s keeps the chat
# demo's screenshot (docs/chat.png), -k runs only the checks whose name
# matches. Needs what interop/setup.sh installs. Prints one line per check
# and "N passed, M failed"; exits non-zero if any check failed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

args=()
while getopts o:s:k: opt; do
  case $opt in
    o) args+=(--out "$OPTARG") ;;
    s) args+=(--screenshot "$OPTARG") ;;
    k) args+=(--only "$OPTARG") ;;
    *) sed -n '2,10s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
  esac
done

if [ ! -d "$here/node_modules/ws" ] || [ ! -d "$here/node_modules/playwright-core" ]; then
  echo "interop: the Node packages are missing; run: bash interop/setup.sh" >&2
  exit 1
fi

bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
echo "building wsd, wsdpeer, h2peer, chat, nats-server and the browser client's test"
(cd "$root" && go build -o "$bin/" ./cmd/wsd ./interop/wsdpeer ./interop/h2peer)
# The chat example is a module of its own (it links the broker adapters);
# nats-server comes from the module the NATS adapter's tests run in.
(cd "$root/examples/chat" && go build -o "$bin/chat" .)
(cd "$root/hub/natsbroker" && go build -o "$bin/nats-server" github.com/nats-io/nats-server/v2)
# The browser client's test: its server, the client built for the
# browser, and the Go distribution's loader for it.
(cd "$root" && go build -o "$bin/wasmserver" ./interop/wasm/server)
mkdir "$bin/wasm"
(cd "$root" && GOOS=js GOARCH=wasm go build -o "$bin/wasm/client.wasm" ./interop/wasm/client)
cp "$(go env GOROOT)/lib/wasm/wasm_exec.js" "$bin/wasm/"

node "$here/run.js" --bin "$bin" ${args[@]+"${args[@]}"}
