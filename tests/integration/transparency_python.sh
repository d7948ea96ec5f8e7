#!/usr/bin/env bash
# Transparency: with no rules, a program must behave exactly as without the shim. Runs socket-heavy
# parts of CPython's own test suite (Debian's libpython3.11-testsuite) twice — plainly, then under
# `sockshim run` with no rules file — and requires both to pass and to run, skip and pass exactly the
# same test cases (compared through regrtest's JUnit XML: test id, outcome, skip reason).
#
#   tests/integration/transparency_python.sh [SOCKSHIM]      default: build/shim/sockshim
#
# Exit 0 same behaviour, 1 a difference or failure, 77 skipped (no Debian python3 / test package).
# Tests that fail even without the shim are listed, with reasons, in transparency_python.exclude.
# TRANSPARENCY_TIMEOUT bounds each `python -m test` invocation, in seconds (default 600).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
sockshim=${1:-build/shim/sockshim}
python=/usr/bin/python3     # Debian's: a pyenv or venv python3 on PATH has no `test` package
exclude_file=$here/transparency_python.exclude
run_timeout=${TRANSPARENCY_TIMEOUT:-600}

# Each group is one `python -m test` invocation. Longest first, so that -j4 (what CPython's CI
# uses, -j0, on two cores; these tests mostly wait on sockets and timers) keeps the workers busy.
# test_socketserver only talks to localhost but asks for the 'network' resource; -u network is kept
# to its own group so that the tests which reach the Internet (test_socket's test_idna, test_httplib's
# and test_ssl's networked tests) stay skipped and the run never depends on outside hosts.
group_args=(
  "-j4 test_ssl test_xmlrpc test_socket test_asyncio.test_events test_selectors test_ftplib
   test_poplib test_asyncio.test_sock_lowlevel test_asyncio.test_sendfile test_urllib2_localnet
   test_httplib test_smtplib test_asyncio.test_streams test_asyncio.test_unix_events
   test_asyncio.test_server"
  "-u network test_socketserver"
)

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

[[ -x "$python" ]] || skip "$python not found (Debian's python3)"
"$python" - <<'PY' || skip "CPython test package missing: apt-get install libpython3.11-testsuite"
import importlib.util, sys
mods = ["test.libregrtest", "test.test_socket", "test.test_socketserver", "test.test_asyncio"]
sys.exit(0 if all(importlib.util.find_spec(m) for m in mods) else 1)
PY
[[ -x "$sockshim" ]] || fail "sockshim command not found at $sockshim"
sockshim=$(cd "$(dirname "$sockshim")" && pwd)/$(basename "$sockshim")

name=transparency-$$
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; rm -f /dev/shm/sockshim-"$name"-*' EXIT

# The exclusion file with comments and blank lines removed: regrtest takes every line as a pattern.
sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$exclude_file" >"$tmp/ignore"

# Keep the interpreter's environment the same in both halves and free of the caller's Python setup.
unset PYTHONPATH PYTHONHOME PYTHONSTARTUP PYTHONWARNINGS LD_PRELOAD

# junit.py cases|failures FILE: regrtest's JUnit XML as sorted `id<TAB>outcome<TAB>skip reason` lines,
# or as a readable list of the failed cases with the end of their tracebacks.
cat >"$tmp/junit.py" <<'PY'
import sys, xml.etree.ElementTree as ET
mode, path = sys.argv[1], sys.argv[2]
try:
    cases = list(ET.parse(path).iter("testcase"))
except (OSError, ET.ParseError) as e:
    sys.exit(f"no JUnit results ({e})")
shown = 0
for case in cases:
    outcome, text = "ok", ""
    for child in case:
        if child.tag in ("skipped", "failure", "error"):
            outcome, text = child.tag, child.text or ""
    if mode == "cases":
        reason = " ".join(text.split()) if outcome == "skipped" else ""
        print(f"{case.get('name')}\t{outcome}\t{reason}")
    elif outcome in ("failure", "error") and shown < 10:
        shown += 1
        print(f"--- {outcome}: {case.get('name')}")
        print("\n".join(text.rstrip().splitlines()[-12:]))
PY

# run_half plain|shim: every group, plainly or under `sockshim run` (no rules; one segment per
# group, transparency-PID-N). Writes $tmp/LABEL.cases, sorted. On a failure, shows the failed cases
# and the end of the log.
run_half() {
  local label=$1
  local i=0 rc start=$SECONDS
  : >"$tmp/$label.cases"
  for args in "${group_args[@]}"; do
    i=$((i + 1))
    local xml="$tmp/$label-$i.xml" log="$tmp/$label-$i.log" prefix=()
    [[ $label == shim ]] && prefix=("$sockshim" run --name "$name-$i" --)
    mkdir -p "$tmp/$label-$i.work"
    rc=0
    # shellcheck disable=SC2086  # group_args entries are word lists on purpose
    timeout -k 10 "$run_timeout" "${prefix[@]}" "$python" -m test --timeout 300 \
      --tempdir "$tmp/$label-$i.work" --ignorefile "$tmp/ignore" --junit-xml "$xml" $args \
      >"$log" 2>&1 || rc=$?
    if ((rc != 0)); then
      tail -n 25 "$log" >&2
      "$python" "$tmp/junit.py" failures "$xml" >&2 || true
      ((rc == 124 || rc == 137)) && fail "$label run of group $i timed out after ${run_timeout}s (output above)"
      fail "$label run of group $i exited $rc (output above): ${prefix[*]:+${prefix[*]} }$python -m test $(echo $args)"
    fi
    "$python" "$tmp/junit.py" cases "$xml" >>"$tmp/$label.cases" || fail "$label run of group $i: $xml unreadable"
  done
  LC_ALL=C sort -o "$tmp/$label.cases" "$tmp/$label.cases"
  echo "$label: $(wc -l <"$tmp/$label.cases") test cases," \
    "$(grep -c $'\tok\t' "$tmp/$label.cases" || true) passed," \
    "$(grep -c $'\tskipped\t' "$tmp/$label.cases" || true) skipped, $((SECONDS - start)) s"
}

# First make sure `sockshim run` really loads the shim, or the comparison would prove nothing.
probe='import sys; sys.exit(0 if "libsockshim" in open("/proc/self/maps").read() else 3)'
rc=0
timeout -k 10 60 "$sockshim" run --name "$name-probe" -- "$python" -c "$probe" || rc=$?
((rc == 0)) || fail "libsockshim is not mapped into a program started by '$sockshim run' (exit $rc)"

run_half plain
[[ -s "$tmp/plain.cases" ]] || fail "the plain run reported no test cases"

run_half shim

if ! diff -U0 --label plain --label 'under sockshim' "$tmp/plain.cases" "$tmp/shim.cases" >"$tmp/diff"; then
  echo "FAIL: CPython's tests behave differently under sockshim (no rules):" \
    "$(grep -c '^-[^-]' "$tmp/diff" || true) lines only without it," \
    "$(grep -c '^+[^+]' "$tmp/diff" || true) only with it (first 60 below)" >&2
  grep -v '^@@' "$tmp/diff" | head -n 60 >&2 || true
  exit 1
fi
echo "PASS: same $(wc -l <"$tmp/plain.cases") test cases and outcomes with and without sockshim"
