#!/usr/bin/env bash
# What the preload object costs a program that barely touches the network: its start-up, and
# exec-heavy jobs (a benchmark: it reports figures and never fails on them).
#
#  1. User-space instructions of `/bin/true` (callgrind, stable on a noisy machine): plain, and
#     with each preload object loaded — libfiu (fiu-run's preload objects), socket_wrapper and
#     sockshim (a stats segment and no rules, and a stats segment with 100 rules) — the added
#     instructions against plain, and the time of the first socket call is not involved.
#  2. CPU time (user + system, from the kernel's accounting of the children) of exec-heavy jobs,
#     plain, with an empty preload object (the floor: what loading any object into every process
#     costs) and under `sockshim run`, side by side: each round runs all three in rotating order,
#     so load from elsewhere slows them alike; the median of the per-round ratios and their spread:
#       - 500 x /bin/true from bash;
#       - `make -j1` of a generated C project (40 files, one compiler run each).
#  3. Whole programs that use the network, user-space instructions of the client (callgrind),
#     plain and joining a run's segment with no rules: curl and python's urllib fetching a 1 MiB
#     file from a loopback HTTP server, and redis-benchmark (-n 100000 by default, SET and GET, one
#     connection) against redis-server; target: within 1 % of plain.
#
# Prints one Markdown block (the start-up section of docs/performance.md) on stdout; progress on
# stderr. With --write-doc it also replaces that section (between `bench-startup:begin` and
# `bench-startup:end`).
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/bench-startup.sh [--write-doc] [--rounds R] [--no-make] [--no-programs] [--redis-n N]

  --write-doc     also write the figures into docs/performance.md (between its markers)
  --rounds R      side-by-side rounds of the exec-heavy jobs (default 5)
  --no-make       skip the make job (it needs gcc and make)
  --no-programs   skip the whole programs (curl, python urllib, redis-benchmark)
  --redis-n N     requests per redis-benchmark test (default 100000)
  -h, --help    this text

Targets (issue 14): at most +20 000 user-space instructions added to /bin/true with a stats
segment and no rules, +60 000 with a 100-rule file; exec-heavy jobs within 1.05x of plain CPU
time; whole programs within 1 % of plain user-space instructions. Needs valgrind; libfiu
(fiu-utils) and socket_wrapper (libsocket-wrapper) are measured as anchors when installed. Takes
about 4-8 minutes.
EOF
}

write_doc=0 rounds=5 make_job=1 programs=1 redis_n=100000
while (($#)); do
  case $1 in
    --write-doc) write_doc=1 ;;
    --rounds) rounds=${2:?--rounds needs a number}; shift ;;
    --no-make) make_job=0 ;;
    --no-programs) programs=0 ;;
    --redis-n) redis_n=${2:?--redis-n needs a number}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench-startup.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "bench-startup.sh: not a positive number: $rounds" >&2; exit 2; }
[[ "$redis_n" =~ ^[1-9][0-9]*$ ]] || { echo "bench-startup.sh: not a positive number: $redis_n" >&2; exit 2; }

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
command -v valgrind >/dev/null || { echo "bench-startup.sh: valgrind not found (scripts/setup.sh installs it)" >&2; exit 1; }
configure_and_build build
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain -- shim filters 2>/dev/null | awk '{ print $NF }' | paste -sd' ' - || true)
[[ -z "$dirty" ]] || dirty="; uncommitted changes in $dirty"

bench_workspace   # $tmp, pids, segments, $lib, $sockshim
rules100=$root/tests/bench/rules-100-port.json
true_bin=$(command -v true)
[[ "$true_bin" == /* ]] || true_bin=/bin/true

# ---------------------------------------------------------------------------------------------
# Part 1: start-up instructions

# ir ENV...: user-space instructions of /bin/true with these environment settings.
ir() {
  local out="$tmp/cg.$RANDOM$RANDOM"
  env -u LD_PRELOAD -u SOCKSHIM_RULES -u SOCKSHIM_STATS -u SOCKSHIM_SEED "$@" \
    valgrind --tool=callgrind --callgrind-out-file="$out" "$true_bin" >/dev/null 2>"$out.log" ||
    { echo "bench-startup.sh: callgrind failed:" >&2; cat "$out.log" >&2; exit 1; }
  awk '/^summary:|^totals:/ { print $2; exit }' "$out"
}

declare -A start
start_rows=()
log "callgrind: /bin/true plain"
start[plain]=$(ir)
add_row() {   # LABEL TARGET ENV...
  local label=$1 target=$2
  shift 2
  log "callgrind: /bin/true, $label"
  local v
  v=$(ir "$@")
  start_rows+=("$label|$v|$((v - start[plain]))|$target")
}
if [[ -f /usr/lib/fiu/fiu_run_preload.so ]]; then
  add_row "libfiu (fiu-run -x: fiu_run_preload.so + fiu_posix_preload.so)" "anchor" \
    LD_PRELOAD="/usr/lib/fiu/fiu_run_preload.so /usr/lib/fiu/fiu_posix_preload.so"
fi
sw=$(ls /usr/lib/*/libsocket_wrapper.so 2>/dev/null | head -n 1 || true)
if [[ -n "$sw" ]]; then
  mkdir -p "$tmp/swrap"
  add_row "socket_wrapper (SOCKET_WRAPPER_DIR set)" "anchor" LD_PRELOAD="$sw" SOCKET_WRAPPER_DIR="$tmp/swrap"
fi
seg0="bench-startup-$$-0" seg100="bench-startup-$$-100"
segments+=("$seg0" "$seg100")
# valgrind's own launcher is preloaded too and makes the segment, so /bin/true joins it: what
# every process of a run but the first does.
add_row "sockshim, joining a run's segment, no rules" "≤ +20 000" LD_PRELOAD="$lib" SOCKSHIM_STATS="$seg0"
add_row "sockshim, joining a run's segment, 100 rules" "≤ +60 000" LD_PRELOAD="$lib" SOCKSHIM_STATS="$seg100" SOCKSHIM_RULES="$rules100"

# ---------------------------------------------------------------------------------------------
# Part 2: exec-heavy jobs, CPU time side by side

# An object that only exists (one empty constructor): what any preload object costs a program by
# being in its symbol scope. Every symbol lookup the loader makes for the program now checks one
# object more, so a program that binds thousands of symbols (curl and its TLS libraries) pays this
# floor whatever the object does; and an exec-heavy job pays, in every process it starts, the
# loading of one more object (its mapping, its pages faulted in) before that object runs at all.
empty_so=""
if command -v cc >/dev/null; then
  printf '__attribute__((constructor)) static void f(void) {}\nint bench_empty_preload(void) { return 0; }\n' >"$tmp/empty.c"
  cc -O2 -shared -fPIC -o "$tmp/empty.so" "$tmp/empty.c" && empty_so=$tmp/empty.so
fi

# cpu CMD...: user+system CPU seconds of CMD and all its children.
cpu() {
  /usr/bin/env TIMEFORMAT='%U %S' bash -c 'time "$@" >/dev/null 2>&1' cpu "$@" 2>&1 >/dev/null |
    awk 'NF == 2 { printf "%.3f", $1 + $2 }'
}

true_loop='for ((i = 0; i < 500; i++)); do /bin/true; done'
job_rows=()

make_project() {
  local dir=$1 i
  mkdir -p "$dir"
  for ((i = 0; i < 40; i++)); do
    printf 'int f%d(int x) { return x * %d + 1; }\n' "$i" "$i" >"$dir/f$i.c"
  done
  printf 'int main(void) { return 0; }\n' >"$dir/main.c"
  {
    printf 'OBJS = main.o'
    for ((i = 0; i < 40; i++)); do printf ' f%d.o' "$i"; done
    printf '\nprog: $(OBJS)\n\tcc -o $@ $(OBJS)\n%%.o: %%.c\n\tcc -O0 -c -o $@ $<\nclean:\n\trm -f prog *.o\n'
  } >"$dir/Makefile"
}

# median VALUES...: the middle value (the lower middle of an even count).
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# range VALUES...: "min-max".
range() { printf '%s\n' "$@" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.3f-%.3f", lo, hi }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (a > 0 ? b / a : 0) }'; }

# side_by_side LABEL SETUP CMD: rounds of plain, the empty preload object (when one could be
# built) and sockshim run, in an order that rotates each round; median ratios against plain.
side_by_side() {
  local label=$1 setup=$2 cmd=$3 r k a b e=0 ratios=() eratios=() plains=() shims=() empties=()
  local -a order
  for ((r = 0; r < rounds; r++)); do
    log "$label: round $((r + 1))/$rounds"
    order=(plain shim)
    [[ -z "$empty_so" ]] || order=(plain empty shim)
    for ((k = 0; k < r % ${#order[@]}; k++)); do order=("${order[@]:1}" "${order[0]}"); done
    for k in "${order[@]}"; do
      eval "$setup"
      case $k in
        plain) a=$(cpu bash -c "$cmd") ;;
        empty) e=$(cpu env LD_PRELOAD="$empty_so" bash -c "$cmd") ;;
        shim) b=$(cpu "$sockshim" run --name "bench-startup-$$-job" -- bash -c "$cmd") ;;
      esac
    done
    plains+=("$a") shims+=("$b") empties+=("$e")
    ratios+=("$(ratio "$a" "$b")") eratios+=("$(ratio "$a" "$e")")
  done
  local em=- er=- es=-
  if [[ -n "$empty_so" ]]; then
    em=$(median "${empties[@]}") er=$(median "${eratios[@]}") es=$(range "${eratios[@]}")
  fi
  job_rows+=("$label|$(median "${plains[@]}")|$em|$er|$es|$(median "${shims[@]}")|$(median "${ratios[@]}")|$(range "${ratios[@]}")")
}
export SOCKSHIM_LIB=$lib
segments+=("bench-startup-$$-job")
side_by_side "500 x /bin/true from bash" ":" "$true_loop"
if ((make_job)) && command -v make >/dev/null && command -v cc >/dev/null; then
  make_project "$tmp/proj"
  side_by_side "make -j1, 41 C files" "make -s -C '$tmp/proj' clean >/dev/null" "make -s -j1 -C '$tmp/proj'"
fi

# ---------------------------------------------------------------------------------------------
# Part 3: whole programs

# prog_ir ENV... -- CMD...: user-space instructions of CMD (callgrind, the process itself).
prog_ir() {
  local -a envs=()
  while [[ $1 != -- ]]; do envs+=("$1"); shift; done
  shift
  local out="$tmp/cg.prog.$RANDOM$RANDOM"
  env -u LD_PRELOAD -u SOCKSHIM_RULES -u SOCKSHIM_STATS -u SOCKSHIM_SEED "${envs[@]}" \
    valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >/dev/null 2>"$out.log" ||
    { echo "bench-startup.sh: callgrind failed: $*" >&2; cat "$out.log" >&2; exit 1; }
  awk '/^summary:|^totals:/ { print $2; exit }' "$out"
}
# free_port: a loopback TCP port nobody listens on now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
prog_rows=()
# wait_port PORT: up to 10 s for a listener.
wait_port() {
  local i
  for ((i = 0; i < 100; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench-startup.sh: nothing listens on 127.0.0.1:$1" >&2
  exit 1
}
prog_row() {   # LABEL CMD...
  local label=$1 plain shim empty=- seg="bench-startup-$$-prog"
  shift
  log "callgrind: $label, plain"
  plain=$(prog_ir -- "$@")
  if [[ -n "$empty_so" ]]; then
    log "callgrind: $label, an empty preload object"
    empty=$(prog_ir LD_PRELOAD="$empty_so" -- "$@")
  fi
  # A segment made by an earlier process of the run, as every process but the first finds it.
  env LD_PRELOAD="$lib" SOCKSHIM_STATS="$seg" true
  log "callgrind: $label, joining a run's segment"
  shim=$(prog_ir LD_PRELOAD="$lib" SOCKSHIM_STATS="$seg" -- "$@")
  rm -f "/dev/shm/sockshim-$seg"
  prog_rows+=("$label|$plain|$empty|$shim")
}
if ((programs)); then
  segments+=("bench-startup-$$-prog")
  mkdir -p "$tmp/www"
  head -c 1048576 /dev/zero >"$tmp/www/blob"
  http_port=$(free_port)
  python3 -m http.server --bind 127.0.0.1 --directory "$tmp/www" "$http_port" >/dev/null 2>&1 &
  pids+=($!)
  wait_port "$http_port"
  url="http://127.0.0.1:$http_port/blob"
  if command -v curl >/dev/null; then
    prog_row "curl, 1 MiB over HTTP" curl -sS -o /dev/null "$url"
  fi
  # Debian's python3 itself (a wrapper script in front of it would be what callgrind measures).
  prog_row "python3 urllib, 1 MiB over HTTP" /usr/bin/python3 -c \
    'import sys, urllib.request; assert len(urllib.request.urlopen(sys.argv[1]).read()) == 1048576' "$url"
  if command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null; then
    redis_port=$(free_port)
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
    pids+=($!)
    wait_port "$redis_port"
    prog_row "redis-benchmark -n $redis_n -t set,get -c 1 (the client)" \
      redis-benchmark -h 127.0.0.1 -p "$redis_port" -n "$redis_n" -t set,get -c 1 -q
  fi
  bench_stop_pids
fi

# ---------------------------------------------------------------------------------------------
# Report

report() {
  echo "### Start-up and exec-heavy jobs (scripts/bench-startup.sh, commit $commit$dirty)"
  echo
  echo "\`$true_bin\`, user-space instructions (callgrind), plain: ${start[plain]}."
  echo
  echo "| preload object | Ir | added | target |"
  echo "|---|---:|---:|---|"
  local row label v d t
  for row in "${start_rows[@]}"; do
    IFS='|' read -r label v d t <<<"$row"
    echo "| $label | $v | +$d | $t |"
  done
  echo
  echo "CPU time (user + system of the job and its children), plain, with an empty preload object"
  echo "(\`LD_PRELOAD\` of an object with one empty constructor: what loading any preload object into"
  echo "every process costs) and under \`sockshim run\` (no rules), $rounds rounds side by side in"
  echo "rotating order; target: sockshim run within 1.05x of plain."
  echo
  echo "| job | plain (median s) | empty preload (median s) | empty/plain (median) | (min-max) | sockshim run (median s) | sockshim/plain (median) | (min-max) | verdict |"
  echo "|---|---:|---:|---:|---|---:|---:|---|---|"
  local p s m sp em er es verdict
  for row in "${job_rows[@]}"; do
    IFS='|' read -r label p em er es s m sp <<<"$row"
    verdict=$(awk -v m="$m" 'BEGIN { print (m <= 1.05) ? "pass" : "over" }')
    # Over, where an object that does nothing is over too: the target is below the floor.
    [[ $verdict == over && $er != - ]] && awk -v e="$er" 'BEGIN { exit !(e > 1.05) }' &&
      verdict="over; the empty object is over too"
    echo "| $label | $p | $em | $er | $es | $s | $m | $sp | $verdict |"
  done
  ((${#prog_rows[@]})) || return 0
  echo
  echo "Whole programs: user-space instructions of the client (callgrind): plain, with an empty"
  echo "preload object (the floor any preload object pays: one more object in the symbol scope, checked"
  echo "on every symbol lookup), and with sockshim joining a run's segment with no rules; target:"
  echo "sockshim within 1 % of plain. (socket_wrapper cannot be an anchor here: it turns loopback"
  echo "connections into unix sockets, so the client would not reach a server outside it.)"
  echo
  echo "| program | plain Ir | empty preload | sockshim | sockshim added | over the empty preload | verdict |"
  echo "|---|---:|---:|---:|---:|---:|---|"
  local e pct over
  for row in "${prog_rows[@]}"; do
    IFS='|' read -r label p e s <<<"$row"
    pct=$(awk -v p="$p" -v s="$s" 'BEGIN { printf "%+.2f %%", 100 * (s - p) / p }')
    over=$([[ $e == - ]] && echo - || awk -v p="$p" -v e="$e" -v s="$s" 'BEGIN { printf "%+.2f %%", 100 * (s - e) / p }')
    [[ $e == - ]] || e="$e ($(awk -v p="$p" -v e="$e" 'BEGIN { printf "%+.2f %%", 100 * (e - p) / p }'))"
    echo "| $label | $p | $e | $s | $pct | $over | $(awk -v p="$p" -v s="$s" 'BEGIN { print (100 * (s - p) / p <= 1.0) ? "pass" : "over" }') |"
  done
}
out=$(report)
printf '%s\n' "$out"
if ((write_doc)); then
  printf '%s\n' "$out" >"$tmp/report.md"
  write_doc_section bench-startup "$tmp/report.md" || exit 1
  log "wrote docs/performance.md"
fi
