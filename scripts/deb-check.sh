#!/usr/bin/env bash
# The Debian package built from this tree, as CI checks it (scripts/test.sh runs it once). Its
# build is CI's release build: dpkg-buildflags' flags (dh exports them), --buildtype=release,
# -Werror off, without the test suites (debian/rules). Steps:
#   1. copy the tracked tree to a temp dir: dpkg-buildpackage writes into the source tree's
#      parent directory, which must not be the checkout's
#   2. dpkg-buildpackage -us -uc -b, and count the compiler and linker warnings in its log: 0
#   3. lintian on the .deb files: no error (E:) tags
#   4. as root: install the packages with apt-get, run README's 30-second example and a chaos run
#      (--expect-fired, --junit, read back with python's xml.etree) against /usr/bin/sockshim
#      from outside the tree, then remove the packages again
# Exit status: 0 pass; 1 a step failed; 77 steps 1-3 passed but step 4 needs root.
# Usage: scripts/deb-check.sh [--keep DIR]        all four steps (--keep: leave the .deb files and
#                                                 logs in DIR)
#        scripts/deb-check.sh --build-only DIR   steps 1-3, the .deb files left in DIR
#        scripts/deb-check.sh --install-from DIR step 4 with the .deb files in DIR
# The split lets scripts/test.sh build the package at low priority while the test suites run,
# which mostly wait on sockets and timers, and install it only after them: an installed
# /usr/bin/sockshim must not be there while other tests run.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

keep= build=1 install=1 from=
case ${1:-} in
  --keep) keep=$2 ;;
  --build-only) keep=$2 install=0 ;;
  --install-from) from=$2 build=0 ;;
  -h | --help) sed -n '2,/^set -e/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
  '') ;;
  *) echo "deb-check.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
esac
if [[ -n "$keep$from" && -z "${2:-}" ]]; then
  echo "deb-check.sh: $1 needs a directory" >&2
  exit 2
fi
work=$(mktemp -d)
cleanup() {
  if [[ -n "$keep" ]]; then mkdir -p "$keep" && cp "$work"/*.deb "$work"/*.log "$keep"/ 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
failed=0
fail() { log "FAIL: $*"; failed=1; }

if ((build)); then
  # 1. The tree as git sees it (tracked and new files, nothing ignored: no build directories).
  mkdir "$work/src"
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard |
      tar --null --no-recursion -T - -cf - | tar -xf - -C "$work/src"
  else
    tar --exclude='./build*' -cf - . | tar -xf - -C "$work/src"
  fi

  # 2. The build, its time, and its warnings.
  # noautodbgsym: CI has no use for the -dbgsym package, and splitting it out costs time.
  log "dpkg-buildpackage -us -uc -b (in $work/src)"
  TIMEFORMAT='%R %U %S'
  if ! { time (cd "$work/src" && DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:+$DEB_BUILD_OPTIONS }noautodbgsym" \
                 dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1); } 2>"$work/time"; then
    tail -n 60 "$work/build.log" >&2
    fail "dpkg-buildpackage failed (log above)"
    exit 1
  fi
  read -r wall user sys <"$work/time"
  log "package built in ${wall} s (CPU: ${user} s user, ${sys} s system)"
  # FILE:LINE:COL: warning: from the compiler, "ld: warning:" from the linker.
  warnings=$(grep -E ':[0-9]+:[0-9]+: warning:|ld: warning:' "$work/build.log" || true)
  count=$(grep -c . <<<"$warnings" || true)
  if [[ -n "$warnings" ]]; then
    printf '%s\n' "$warnings" >&2
    fail "the release build with dpkg-buildflags has $count warning(s) (above); want 0"
  else
    log "release build with dpkg-buildflags: 0 warnings"
  fi
  grep -E -- '-D_FORTIFY_SOURCE=2' "$work/build.log" >/dev/null ||
    fail "the build log shows no dpkg-buildflags flags (-D_FORTIFY_SOURCE=2): were they applied?"

  # 3. lintian: errors fail, warnings are shown.
  debs=("$work"/sockshim_*.deb "$work"/libsockshim-dev_*.deb)
  log "lintian ${debs[*]##*/}"
  lintian --tag-display-limit 0 "${debs[@]}" >"$work/lintian.log" 2>&1 || true
  cat "$work/lintian.log" >&2
  if grep -q '^E: ' "$work/lintian.log"; then fail "lintian reports errors (E: above)"; fi
  if ((failed)); then exit 1; fi
  if ((!install)); then
    log "package built, 0 warnings, lintian clean: ${debs[*]##*/} left in $keep"
    exit 0
  fi
else
  debs=("$from"/sockshim_*.deb "$from"/libsockshim-dev_*.deb)
  for deb in "${debs[@]}"; do
    [[ -f "$deb" ]] || { log "FAIL: no $deb in $from (made by --build-only)"; exit 1; }
  done
fi

# 4. Installed and run, outside the tree.
if ((EUID != 0)); then
  echo "SKIP: installing the package needs root (steps 1-3 passed)"
  exit 77
fi
for pkg in sockshim libsockshim-dev; do
  if dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null | grep -q '^ii'; then
    fail "$pkg is already installed; not replacing it (remove it first)"
    exit 1
  fi
done
log "apt-get install ${debs[*]##*/}"
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
  --no-install-recommends "${debs[@]}" >"$work/install.log" 2>&1 || {
  cat "$work/install.log" >&2
  fail "the packages do not install"
  exit 1
}
remove_packages() {
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 remove -y -qq \
    sockshim libsockshim-dev >/dev/null 2>&1 || log "warning: could not remove the packages"
  rm -rf "$work"
}
trap 'cleanup; remove_packages' EXIT

cd "$work"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir www && echo hello >www/index.html
/usr/bin/python3 -m http.server --bind 127.0.0.1 --directory www "$port" >/dev/null 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; cleanup; remove_packages' EXIT
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done

# README's 30 seconds: counted once plainly, refused once by the installed profile.
out=$(env -u LD_PRELOAD -u SOCKSHIM_LIB /usr/bin/sockshim run --summary -- \
        curl -sS --noproxy '*' -o /dev/null "http://127.0.0.1:$port/" 2>&1) ||
  fail "sockshim run --summary -- curl: exit $?: $out"
grep -q 'connected=1' <<<"$out" || fail "no connected=1 in the summary: $out"
rc=0
out=$(/usr/bin/sockshim run -c /usr/share/sockshim/examples/refuse-connect.json \
        --expect-fired refuse-http --junit chaos.xml -- \
        curl -sS --noproxy '*' "http://127.0.0.1:$port/" 2>&1) || rc=$?
[[ $rc == 7 ]] || fail "chaos run: exit $rc, want curl's 7: $out"
/usr/bin/python3 - chaos.xml <<'PY' || fail "chaos.xml is not the JUnit report it should be"
import sys, xml.etree.ElementTree as ET
suite = ET.parse(sys.argv[1]).getroot().find("testsuite")
cases = {c.get("name"): c for c in suite.findall("testcase")}
fired = cases.get("rule refuse-http fired")
exit_case = [c for n, c in cases.items() if n.endswith("exits 0")]
assert fired is not None and fired.find("failure") is None, cases
assert len(exit_case) == 1 and exit_case[0].find("failure") is not None, "curl's exit 7 must fail"
props = {p.get("name"): p.get("value") for p in suite.find("properties")}
assert props.get("sockshim.faults.refuse-http") == "1", props
PY
man -w sockshim >/dev/null 2>&1 || [[ -f /usr/share/man/man1/sockshim.1.gz ]] ||
  fail "man page sockshim(1) not installed"
pkg-config --exists sockshim-bpfvm sockshim-netstack || fail "pkg-config does not find the .pc files"

if ((failed)); then exit 1; fi
log "package: built, 0 warnings, lintian clean, installed, ran"
