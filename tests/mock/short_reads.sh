#!/usr/bin/env bash
# Integration test of the shim's `short` action against the mock agent (issue 3): the agent and a
# client each run under `sockshim run -c RULES`, where every send and receive on unix stream
# sockets moves at most 5 bytes.
#   1. careful client, sends and receives short: exit 0, its tally equals the agent's (no byte
#      lost, duplicated or reordered), and the rule fired in both processes;
#   2. naive client, same rules: exit 1 on its first frame, naming it (a short write);
#   3. naive client, only receives short: exit 1, "one read() returned 5 bytes, want 8" on the
#      first reply header: code that assumes one read is one frame breaks;
#   4. careful client, only receives short: passes with the agent's tally.
#   tests/mock/short_reads.sh SOCKSHIM LIBSOCKSHIM MOCK_AGENT MOCK_CLIENT \
#                             RULES_SHORT RULES_SHORT_RECV
# Exit 0 pass, 1 a check failed ("FAIL: ... got X, want Y").
set -euo pipefail
(($# == 6)) || {
  echo "usage: $0 SOCKSHIM LIBSOCKSHIM MOCK_AGENT MOCK_CLIENT RULES_SHORT RULES_SHORT_RECV" >&2
  exit 2
}
tmp=$(mktemp -d /tmp/mock-short-reads-XXXXXX)
started=()

cleanup() {
  local p i
  for p in "${started[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for ((i = 0; i < 50; i++)); do
    local alive=0
    for p in "${started[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for p in "${started[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() { echo "FAIL: short_reads: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# start_agent NAME CMD...: runs CMD (a mock_agent command line, maybe behind `sockshim run`) in the
# background with stdout in $tmp/NAME.out and stderr in $tmp/NAME.err; waits up to 5 s for "ready".
# Sets agent_pid.
start_agent() {
  local name=$1 i
  shift
  "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  agent_pid=$!
  started+=("$agent_pid")
  for ((i = 0; i < 100; i++)); do
    grep -qx ready "$tmp/$name.out" 2>/dev/null && return 0
    kill -0 "$agent_pid" 2>/dev/null ||
      fail "$name: agent exited before ready: $(cat "$tmp/$name.err")"
    sleep 0.05
  done
  fail "$name: agent not ready after 5 s"
}

# stop_agent NAME: SIGTERM, wait up to 5 s, require exit 0; sets agent_tally (its line without
# prefix). Not in $(...): a subshell cannot wait for the agent.
stop_agent() {
  local name=$1 i rc=0
  kill -TERM "$agent_pid"
  for ((i = 0; i < 100; i++)); do
    kill -0 "$agent_pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -0 "$agent_pid" 2>/dev/null && fail "$name: agent still running 5 s after SIGTERM"
  wait "$agent_pid" || rc=$?
  ((rc == 0)) || fail "$name: agent exit $rc, want 0: $(cat "$tmp/$name.err")"
  agent_tally=$(sed -n 's/^agent: //p' "$tmp/$name.out")
}

# tally FILE: the client's tally line without prefix.
tally() { sed -n 's/^client: //p' "$1"; }

# abs PATH: meson passes build targets relative to the build dir (the tests' cwd); a bare name
# such as "sockshim" would otherwise be looked up in PATH.
abs() { if [[ $1 == /* ]]; then echo "$1"; else echo "$PWD/$1"; fi; }

sockshim=$(abs "$1") agent=$(abs "$3") client=$(abs "$4") rules_short=$5 rules_recv=$6
SOCKSHIM_LIB=$(abs "$2")   # the library meson built, not one found beside an installed sockshim
export SOCKSHIM_LIB
unset LD_PRELOAD SOCKSHIM_RULES SOCKSHIM_STATS
for f in "$sockshim" "$SOCKSHIM_LIB" "$agent" "$client" "$rules_short" "$rules_recv"; do
  [[ -e $f ]] || fail "$f does not exist (build it first)"
done
"$sockshim" check "$rules_short" >/dev/null || fail "sockshim check $rules_short failed (see above)"

# Fewer frames than the unit test: at 5 bytes per call each KiB costs ~200 calls on each side.
client_opts=(--seed 3 --commands 16 --frames 16 --max-size 65536 --timeout 30)

# fired JSON RULE: how often RULE fired in the stats JSON that `sockshim run --json-out` wrote.
fired() {
  python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(sum(r["fired"] for r in d["rules"] if r["name"] == sys.argv[2]))' "$1" "$2"
}

# run_case NAME RULES MODE: starts an agent and runs one client, both under the rules. Sets rc, msg.
run_case() {
  local name=$1 rules=$2 mode=$3 flag=()
  [[ $mode == naive ]] && flag=(--naive)
  start_agent "$name" "$sockshim" run -c "$rules" --json-out "$tmp/$name.agent.json" -- \
    "$agent" --ctl "$tmp/$name.ctl" --io "$tmp/$name.io" --timeout 60
  rc=0
  # `timeout` backs up the client's own deadline in case the run hangs outside it. In the
  # background, so that a signal to this script runs the cleanup trap at once.
  timeout -k 2 45 "$sockshim" run -c "$rules" --json-out "$tmp/$name.client.json" -- \
    "$client" "${flag[@]}" --ctl "$tmp/$name.ctl" --io "$tmp/$name.io" "${client_opts[@]}" \
    >"$tmp/$name.client" 2>&1 &
  started+=($!)
  wait $! || rc=$?
  msg=$(cat "$tmp/$name.client")
  stop_agent "$name"
}

# expect_pass NAME RULE: the client passed, its tally equals the agent's, RULE fired on both sides.
expect_pass() {
  local name=$1 rule=$2 side n
  ((rc == 0)) || fail "$name: client exit $rc, want 0: $msg"
  local got
  got=$(tally "$tmp/$name.client")
  [[ -n $got && $got == "$agent_tally" ]] ||
    fail "$name: client tally '$got', agent tally '$agent_tally'"
  for side in agent client; do
    n=$(fired "$tmp/$name.$side.json" "$rule")
    ((n > 0)) || fail "$name: rule $rule fired $n times in the $side, want > 0"
  done
  pass "$name: $got"
}

run_case short-careful "$rules_short" careful
expect_pass short-careful short-unix

run_case short-naive "$rules_short" naive
((rc == 1)) || fail "short-naive: client exit $rc, want 1: $msg"
# The first frame is an empty control frame; the quoted tails are matched literally.
frame0='^mock_client \(naive\): ctl frame 0 \(command [0-9]+, 0 bytes\)'
[[ $msg =~ $frame0": send: one write() sent 5 bytes, want 8"$ ]] ||
  fail "short-naive: client said '$msg', want a short write on ctl frame 0"
pass "short-naive fails: $msg"

run_case recv-naive "$rules_recv" naive
((rc == 1)) || fail "recv-naive: client exit $rc, want 1: $msg"
[[ $msg =~ $frame0": reply header: one read() returned 5 bytes, want 8"$ ]] ||
  fail "recv-naive: client said '$msg', want a short read on ctl frame 0"
pass "recv-naive fails: $msg"

run_case recv-careful "$rules_recv" careful
expect_pass recv-careful short-unix-recv
