#!/usr/bin/env bash
# Installs the interop suite's peers on a fresh machine: Debian's chromium,
# python3-websockets and tmux (the terminal the CLI's interactive tests
# type into), only when missing, and the Node packages pinned in
# package-lock.json.
set -euo pipefail
cd "$(dirname "$0")"

missing=()
for pkg in chromium python3-websockets tmux; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  echo "installing ${missing[*]}"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" </dev/null
fi

# playwright-core brings no browser; the suite uses /usr/bin/chromium.
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
