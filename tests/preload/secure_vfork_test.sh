#!/usr/bin/env bash
# Under AT_SECURE (set-user-ID, set-group-ID, file capabilities) the shim stays inert, and inert
# must mean exactly the real behaviour: vfork stays a vfork. The probe is made set-group-ID to
# nogroup and run as root, which gives it AT_SECURE (real gid 0, effective gid nogroup).
# Needs root (chgrp to a group we are not in); exits 77 otherwise.
set -euo pipefail
probe=$1
if ((EUID != 0)); then
  echo "SKIP: needs root to make a set-group-ID copy of the probe"
  exit 77
fi
group=$(getent group nogroup | cut -d: -f1 || true)
if [[ -z "$group" ]]; then
  echo "SKIP: no group nogroup"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
cp "$probe" "$tmp/probe"
chgrp "$group" "$tmp/probe"
chmod 2755 "$tmp/probe"
plain=$("$probe")
secure=$(env -i "$tmp/probe")
echo "plain:  $plain"
echo "setgid: $secure"
status=0
if [[ "$plain" != "secure=0 errno=2" ]]; then
  echo "FAIL: the probe without set-group-ID: got '$plain', want 'secure=0 errno=2'"
  status=1
fi
if [[ "$secure" != "secure=1 errno=2" ]]; then
  echo "FAIL: the set-group-ID probe: got '$secure', want 'secure=1 errno=2' (vfork must stay a vfork)"
  status=1
fi
exit "$status"
