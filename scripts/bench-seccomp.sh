#!/usr/bin/env bash
# What seccomp mode costs a Go program (issue 16's targets; a benchmark: it reports figures and
# never fails on them). tests/bench/go/seccomp_bench.go, built here with Go's standard library
# (CGO_ENABLED=0: a static binary, so `auto` picks seccomp mode), against its own net/http server
# on 127.0.0.1, which runs plainly; only the client is measured:
#
#  1. a system call the filter lets through in the kernel (getppid): ns per call plainly and
#     under `sockshim run --intercept seccomp` (the difference is the filter's cBPF run);
#  2. wall time of the client, stats only (no rules), plainly, under `sockshim run --intercept
#     seccomp`, and under `strace -f --seccomp-bpf` tracing the same calls to /dev/null (the same
#     kind of filter, but every stop a ptrace round trip):
#       - N requests over keep-alive connections (target: within 1.10x of plain);
#       - N requests, each on a fresh connection (target: within 2x; each socket, connect, close
#         and the server's accept is a notified call, so the per-call cost is given too);
#       - the same fresh connections made by P goroutines at once (how the supervisor's worker
#         threads scale: docs/shim.md, "Many threads at once"; SOCKSHIM_SUPERVISOR_THREADS=N in
#         this script's environment sets their number).
#     Rounds alternate the order of the modes, so load from elsewhere slows each alike; medians
#     and the spread of the per-round ratios;
#  3. a send and a receive of one byte on loopback TCP, made with write/read and with
#     sendto/recvfrom: ns per pair plainly, under seccomp mode (sendto/recvfrom are always handed
#     to the supervisor; write/read only with --seccomp-rw or a rule on send or recv), and the
#     cost each handed-over call adds.
#
# Prints one Markdown block on stdout; progress on stderr. With --write-doc it also replaces the
# section of docs/performance.md between its bench-seccomp markers.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/bench-seccomp.sh [--write-doc] [--rounds R] [--keepalive N] [--fresh N] [--threads P] [--syscalls N]
                                [--transfers N]

  --write-doc     also write the figures into docs/performance.md (between its markers)
  --rounds R      rounds of each workload, the modes side by side in each (default 5)
  --keepalive N   requests over keep-alive connections (default 10000)
  --fresh N       requests on fresh connections (default 10000)
  --threads P     goroutines making the fresh requests at once in the last workload (default 16)
  --syscalls N    getppid calls timed in part 1 (default 2000000)
  --transfers N   send and receive pairs timed in part 3 (default 50000)
  -h, --help      this text

Targets (issue 16): keep-alive within 1.10x of plain wall time, fresh connections within 2x.
Needs go (golang-go) and strace. Uses the shim in build/ (BENCH_BUILD=DIR for another build
directory, which must be built already). Takes about 2-5 minutes.
EOF
}

write_doc=0 rounds=5 keepalive=10000 fresh=10000 threads=16 syscalls=2000000 transfers=50000
while (($#)); do
  case $1 in
    --write-doc) write_doc=1 ;;
    --rounds) rounds=${2:?--rounds needs a number}; shift ;;
    --keepalive) keepalive=${2:?--keepalive needs a number}; shift ;;
    --fresh) fresh=${2:?--fresh needs a number}; shift ;;
    --threads) threads=${2:?--threads needs a number}; shift ;;
    --syscalls) syscalls=${2:?--syscalls needs a number}; shift ;;
    --transfers) transfers=${2:?--transfers needs a number}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
  shift
done
for v in "$rounds" "$keepalive" "$fresh" "$threads" "$syscalls" "$transfers"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "bench-seccomp.sh: not a positive number: $v" >&2; exit 2; }
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
for p in go strace; do
  command -v "$p" >/dev/null || { echo "bench-seccomp.sh: $p not found (scripts/setup.sh installs it)" >&2; exit 1; }
done
if [[ -z "${BENCH_BUILD:-}" ]]; then
  configure_and_build build
fi
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
bench_workspace   # $tmp, pids, segments, $sockshim

log "go build tests/bench/go/seccomp_bench.go"
bench=$tmp/bin/seccomp_bench
(cd "$tmp" && env GOCACHE="$tmp/gocache" GOPATH="$tmp/gopath" HOME="$tmp" GO111MODULE=off GOFLAGS= CGO_ENABLED=0 \
  go build -o "$bench" "$root/tests/bench/go/seccomp_bench.go") >&2
traced=socket,socketpair,connect,listen,accept,accept4,close

# The server: plainly, for the whole benchmark (it stops by itself after an hour).
"$bench" serve "$tmp/port" 3600 &
pids+=($!)
for ((i = 0; i < 100; i++)); do [[ -s "$tmp/port" ]] && break; sleep 0.1; done
[[ -s "$tmp/port" ]] || { echo "bench-seccomp.sh: the server did not start" >&2; exit 1; }
url="http://127.0.0.1:$(cat "$tmp/port")/"
segments+=("bench-seccomp-$$")

# run_mode MODE CMD...: CMD plainly, under sockshim in seccomp mode, or under strace.
run_mode() {
  local mode=$1
  shift
  case $mode in
    plain) "$@" ;;
    seccomp) "$sockshim" run --name "bench-seccomp-$$" --intercept seccomp -- "$@" ;;
    seccomp-rw) "$sockshim" run --name "bench-seccomp-$$" --intercept seccomp --seccomp-rw -- "$@" ;;
    strace) strace -f --seccomp-bpf -e trace="$traced" -o /dev/null "$@" ;;
  esac
}

# wall MODE CMD...: seconds CMD took (fails the benchmark when CMD fails).
wall() {
  local start end
  start=$(date +%s%N)
  run_mode "$@" >/dev/null || { echo "bench-seccomp.sh: failed: $*" >&2; exit 1; }
  end=$(date +%s%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
spread() { sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f to %.2f", lo, hi }'; }

# ---------------------------------------------------------------------------------------------
# Part 1: a call the filter lets through

# Each round runs both, in alternating order; the added cost is the median of the per-round
# differences, so a load that changes between rounds moves both figures of a round alike.
declare -a plain_ns seccomp_ns added_ns
for ((r = 0; r < rounds; r++)); do
  log "getppid: round $((r + 1))/$rounds"
  if ((r % 2 == 0)); then
    a=$(run_mode plain "$bench" syscalls "$syscalls"); b=$(run_mode seccomp "$bench" syscalls "$syscalls")
  else
    b=$(run_mode seccomp "$bench" syscalls "$syscalls"); a=$(run_mode plain "$bench" syscalls "$syscalls")
  fi
  plain_ns+=("$a") seccomp_ns+=("$b") added_ns+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", b - a }')")
done
p_ns=$(printf '%s\n' "${plain_ns[@]}" | median)
s_ns=$(printf '%s\n' "${seccomp_ns[@]}" | median)
d_ns=$(printf '%s\n' "${added_ns[@]}" | median)
d_spread=$(printf '%s\n' "${added_ns[@]}" | spread)

# ---------------------------------------------------------------------------------------------
# Part 2: HTTP clients

declare -a rows
# workload LABEL CALLS CMD...: rounds of the three modes, order rotated per round. CALLS: the
# notified calls the client makes (for the per-call cost), or 0.
workload() {
  local label=$1 calls=$2 r m t
  shift 2
  local -a modes=(plain seccomp strace) plain=() sec=() str=() sec_ratio=() str_ratio=()
  for ((r = 0; r < rounds; r++)); do
    log "$label: round $((r + 1))/$rounds"
    declare -A took=()
    for ((m = 0; m < 3; m++)); do
      t=${modes[$(((m + r) % 3))]}
      took[$t]=$(wall "$t" "$@")
    done
    plain+=("${took[plain]}") sec+=("${took[seccomp]}") str+=("${took[strace]}")
    sec_ratio+=("$(awk -v a="${took[plain]}" -v b="${took[seccomp]}" 'BEGIN { printf "%.3f", b / a }')")
    str_ratio+=("$(awk -v a="${took[plain]}" -v b="${took[strace]}" 'BEGIN { printf "%.3f", b / a }')")
    unset took
  done
  local pm sm tm per="-"
  pm=$(printf '%s\n' "${plain[@]}" | median)
  sm=$(printf '%s\n' "${sec[@]}" | median)
  tm=$(printf '%s\n' "${str[@]}" | median)
  if ((calls > 0)); then
    per=$(awk -v a="$pm" -v b="$sm" -v n="$calls" 'BEGIN { printf "%.1f", (b - a) * 1e6 / n }')
  fi
  rows+=("$label|$pm|$sm ($(printf '%s\n' "${sec_ratio[@]}" | median)x, $(printf '%s\n' "${sec_ratio[@]}" | spread))|$tm ($(printf '%s\n' "${str_ratio[@]}" | median)x)|$per")
}

# A fresh-connection request: socket, connect and close in the client (Go closes each once).
workload "$keepalive requests, keep-alive, 1 goroutine" 0 "$bench" get "$url" "$keepalive" keepalive 1
workload "$fresh requests, fresh connections, 1 goroutine" $((fresh * 3)) "$bench" get "$url" "$fresh" fresh 1
workload "$fresh requests, fresh connections, $threads goroutines" $((fresh * 3)) "$bench" get "$url" "$fresh" fresh "$threads"

# ---------------------------------------------------------------------------------------------
# Part 3: sends and receives

declare -a xrows
# transfer_row HOW MODE: rounds of plain and MODE side by side, order alternating; one table row.
transfer_row() {
  local how=$1 mode=$2 r a b
  local -a pl=() se=() added=()
  for ((r = 0; r < rounds; r++)); do
    log "transfers $how under $mode: round $((r + 1))/$rounds"
    if ((r % 2 == 0)); then
      a=$(run_mode plain "$bench" transfers "$transfers" "$how"); b=$(run_mode "$mode" "$bench" transfers "$transfers" "$how")
    else
      b=$(run_mode "$mode" "$bench" transfers "$transfers" "$how"); a=$(run_mode plain "$bench" transfers "$transfers" "$how")
    fi
    pl+=("$a") se+=("$b") added+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", (b - a) / 2 }')")
  done
  xrows+=("$how|$mode|$(printf '%s\n' "${pl[@]}" | median)|$(printf '%s\n' "${se[@]}" | median)|$(printf '%s\n' "${added[@]}" | median) ($(printf '%s\n' "${added[@]}" | spread))")
}
transfer_row sendto seccomp
transfer_row rw seccomp-rw
transfer_row rw seccomp

# ---------------------------------------------------------------------------------------------
# Report

report() {
  echo "Seccomp mode (scripts/bench-seccomp.sh at $commit; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg);" \
       "medians of $rounds rounds; the Go client of tests/bench/go/seccomp_bench.go, its server plain):"
  echo
  echo "| a call the filter lets through (getppid) | plain | seccomp mode | added (median of the rounds' differences; spread) |"
  echo "|---|---|---|---|"
  echo "| ns per call | $p_ns | $s_ns | $d_ns ($d_spread) |"
  echo
  echo "| client workload | plain (s) | seccomp mode (s; ratio, spread) | strace --seccomp-bpf (s; ratio) | µs added per notified call |"
  echo "|---|---|---|---|---|"
  for row in "${rows[@]}"; do echo "| ${row//|/ | } |"; done
  echo
  echo "| one byte sent and received on loopback TCP | mode | plain (ns per pair) | that mode (ns per pair) | ns added per call (median of the rounds' differences / 2; spread) |"
  echo "|---|---|---|---|---|"
  for row in "${xrows[@]}"; do
    row=${row/#sendto|/sendto, recvfrom|}
    row=${row/#rw|/write, read|}
    row=${row/|seccomp-rw|/|seccomp --seccomp-rw|}
    echo "| ${row//|/ | } |"
  done
  echo
  echo "Targets (issue 16): keep-alive within 1.10x, fresh connections within 2x of plain wall time."
}

report >"$tmp/report.md"
cat "$tmp/report.md"

if ((write_doc)); then
  write_doc_section bench-seccomp "$tmp/report.md" || exit 1
  log "wrote the figures into docs/performance.md"
fi
