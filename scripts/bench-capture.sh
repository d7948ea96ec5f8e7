#!/usr/bin/env bash
# What capture costs (a benchmark: it reports figures and never fails on them). docs/performance.md,
# "Capture".
#
#  1. Without --pcap: user-space instructions the shim adds per call (callgrind on
#     tests/bench/shim_bench, bench-shim.sh's method: two iteration counts, minus the plain run),
#     for a preload object built without capture (BASE_LIB) and for this one, with no rules. The
#     hot paths test one flag more; this shows whether that costs anything.
#  2. With --pcap: the same figure for the program under `sockshim run --pcap` (the preload
#     object's work: the hooks, the record copies into the ring), and wall time per call of the
#     pingpong loop (64-byte send/recv) plain, under `sockshim run`, and under `sockshim run
#     --pcap`, best of 3 rounds.
#
# usage: scripts/bench-capture.sh BUILD_DIR [BASE_LIB] [--n1 N] [--n2 N] [--wall N]
#   BUILD_DIR  a build of this tree (its shim/sockshim, shim/libsockshim.so, tests/bench/shim_bench)
#   BASE_LIB   libsockshim.so of the commit to compare with (part 1); omitted: part 1 measures
#              only this build
set -euo pipefail

build=${1:?usage: scripts/bench-capture.sh BUILD_DIR [BASE_LIB] [--n1 N] [--n2 N] [--wall N]}
shift
base_lib=
if (($#)) && [[ $1 != --* ]]; then base_lib=$(realpath "$1"); shift; fi
n1=2000 n2=12000 wall=100000
while (($#)); do
  case $1 in
    --n1) n1=$2; shift ;;
    --n2) n2=$2; shift ;;
    --wall) wall=$2; shift ;;
    *) echo "bench-capture.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
build=$(realpath "$build")
sockshim=$build/shim/sockshim lib=$build/shim/libsockshim.so bench=$build/tests/bench/shim_bench
for f in "$sockshim" "$lib" "$bench"; do [[ -x $f || -f $f ]] || { echo "bench-capture.sh: $f missing" >&2; exit 1; }; done
command -v valgrind >/dev/null || { echo "bench-capture.sh: valgrind not found" >&2; exit 1; }
tmp=$(mktemp -d /tmp/bench-capture.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
clean=(env -u LD_PRELOAD -u SOCKSHIM_RULES -u SOCKSHIM_STATS -u SOCKSHIM_SEED -u SOCKSHIM_DEBUG -u SOCKSHIM_CAPTURE)

# ir CONFIG WORKLOAD N: total instructions of one callgrind run of shim_bench.
ir() {
  local cfg=$1 w=$2 n=$3 out="$tmp/cg.$1.$2.$3" seg="bench-capture-$$-$1-$2-$3"
  local -a pre=()
  case $cfg in
    plain) ;;
    base) pre=(env LD_PRELOAD="$base_lib" SOCKSHIM_STATS="$seg") ;;
    shim) pre=(env LD_PRELOAD="$lib" SOCKSHIM_STATS="$seg") ;;
    pcap) pre=(env SOCKSHIM_LIB="$lib" "$sockshim" run --name "$seg" --pcap "$tmp/$seg.pcap" --) ;;
  esac
  echo "callgrind: $cfg $w N=$n" >&2
  "${clean[@]}" "${pre[@]}" valgrind --tool=callgrind --callgrind-out-file="$out" "$bench" "$w" "$n" \
    >"$out.stdout" 2>"$out.err" || { cat "$out.err" >&2; exit 1; }
  if grep -q "capture records (" "$out.err"; then echo "bench-capture.sh: records lost in $cfg $w" >&2; exit 1; fi
  rm -f "/dev/shm/sockshim-$seg"
  awk '/^totals:/ { print $2; exit } /^summary:/ { s = $2 } END { if (s) print s }' "$out" | head -1
}
calls() { sed -n 's/^calls_per_iter=//p' "$tmp/cg.plain.$1.$n1.stdout"; }

added() {   # added CONFIG WORKLOAD: Ir per call over plain
  local cfg=$1 w=$2
  local p1 p2 c1 c2
  p1=$(ir plain "$w" "$n1"); p2=$(ir plain "$w" "$n2")
  c1=$(ir "$cfg" "$w" "$n1"); c2=$(ir "$cfg" "$w" "$n2")
  awk -v p1="$p1" -v p2="$p2" -v c1="$c1" -v c2="$c2" -v n=$((n2 - n1)) -v k="$(calls "$w")" \
    'BEGIN { printf "%.1f", ((c2 - c1) - (p2 - p1)) / (n * k) }'
}

echo "### Capture: instructions added per call (callgrind, shim_bench, N=$n1 and $n2, no rules)"
echo
if [[ -n $base_lib ]]; then
  echo "| workload | without capture code (base) | this build, no --pcap | this build, --pcap |"
  echo "|---|---|---|---|"
else
  echo "| workload | this build, no --pcap | this build, --pcap |"
  echo "|---|---|---|"
fi
for w in connect pingpong files; do
  row="| $w |"
  [[ -n $base_lib ]] && row+=" $(added base "$w") |"
  row+=" $(added shim "$w") | $(added pcap "$w") |"
  echo "$row"
done
echo

# Wall time per call of the pingpong loop: best of 3.
best() {
  local b=
  for _ in 1 2 3; do
    local s e
    s=$(date +%s%N)
    "$@" >/dev/null 2>"$tmp/wall.err" || { cat "$tmp/wall.err" >&2; exit 1; }
    e=$(date +%s%N)
    if [[ -z $b ]] || ((e - s < b)); then b=$((e - s)); fi
  done
  echo "$b"
}
echo "### Capture: wall time per call, pingpong (64-byte send/recv on loopback TCP), N=$wall, best of 3"
echo
t_plain=$(best "${clean[@]}" "$bench" pingpong "$wall")
t_shim=$(best "${clean[@]}" SOCKSHIM_LIB="$lib" "$sockshim" run -- "$bench" pingpong "$wall")
t_pcap=$(best "${clean[@]}" SOCKSHIM_LIB="$lib" "$sockshim" run --pcap "$tmp/wall.pcap" -- "$bench" pingpong "$wall")
grep -q "capture records (" "$tmp/wall.err" && echo "(records were lost in the --pcap run)"
k=4
echo "| run | total ms | ns per call |"
echo "|---|---|---|"
for pair in "plain:$t_plain" "sockshim run:$t_shim" "sockshim run --pcap:$t_pcap"; do
  awk -v name="${pair%%:*}" -v t="${pair##*:}" -v n=$((wall * k)) \
    'BEGIN { printf "| %s | %.0f | %.0f |\n", name, t / 1e6, t / n }'
done
echo
echo "Packets in the --pcap run's file: $(tshark -r "$tmp/wall.pcap" 2>/dev/null | wc -l) (tshark)"
