#!/usr/bin/env bash
# The README's demo: curl against a local web server, first through sockshim with no rules (works,
# prints the socket statistics), then with docs/examples/refuse-connect.json, which refuses curl's
# TCP connect — curl reports the error and exits 7, and the statistics show the injected fault.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

scripts/setup.sh
configure_and_build build

sockshim=build/shim/sockshim
rules=docs/examples/refuse-connect.json
[[ -x "$sockshim" ]] || { echo "demo.sh: $sockshim was not built" >&2; exit 1; }

tmp=$(mktemp -d)
server_pid=
cleanup() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$tmp" "$port" >"$tmp/server.log" 2>&1 &
server_pid=$!
url="http://127.0.0.1:$port/"
for _ in $(seq 50); do
  curl -s -o /dev/null "$url" && break
  sleep 0.1
done
curl -s -o /dev/null "$url" || { cat "$tmp/server.log" >&2; echo "demo.sh: server on port $port did not answer" >&2; exit 1; }

echo "\$ sockshim run --summary -- curl -sS -o /dev/null -w '%{http_code}\\n' $url"
"$sockshim" run --summary -- curl -sS -o /dev/null -w '%{http_code}\n' "$url"
echo

echo "\$ sockshim run -c $rules --summary -- curl -sS -o /dev/null -w '%{http_code}\\n' $url"
rc=0
"$sockshim" run -c "$rules" --summary -- curl -sS -o /dev/null -w '%{http_code}\n' "$url" || rc=$?
echo "exit code: $rc"
if ((rc != 7)); then
  echo "demo.sh: expected curl to exit 7 (couldn't connect), got $rc" >&2
  exit 1
fi
