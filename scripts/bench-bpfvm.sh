#!/usr/bin/env bash
# bpfvm's interpreter against libpcap's own bpf_filter(), measured (a benchmark: it reports
# figures and never fails on them). Both run the same tcpdump-compiled programs (pcap_compile for
# DLT_EN10MB, as tcpdump does on an Ethernet interface) on the same 9 Ethernet frames (TCP, UDP,
# ICMP, IPv6, ARP), driven by bpfvm/bench/bpfvm_bench.cc:
#
#  1. Instructions per packet (callgrind Ir), per expression and engine, at two pass counts
#     N1 < N2 so that start-up (loader, compiling) cancels out:
#         Ir/packet = (Ir(N2) - Ir(N1)) / ((N2 - N1) * frames)
#     The per-packet loop and call are the same for both engines and included in both.
#  2. Packets per second of both engines in one process, rounds alternating (median of each).
#
# Prints a Markdown block (the bpfvm figures of docs/performance.md) on stdout; progress goes to
# stderr.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/bench-bpfvm.sh [--build DIR] [--n1 N] [--n2 N] [--rounds R] [--ms MS]

  --build DIR   build directory to use (default build; configured if missing, and only
                bpfvm/bpfvm_bench is built)
  --n1, --n2    passes over the frames in the two callgrind runs (default 200 and 1200)
  --rounds R    rounds per engine of the packets/s measurement (default 7)
  --ms MS       length of one round in milliseconds (default 200)
  -h, --help    this text

Target (issue 4): bpfvm at most 2/3 of bpf_filter's instructions per packet. Needs valgrind.
Takes well under a minute. The exit status is 0 whenever everything could be measured.
EOF
}

build=build n1=200 n2=1200 rounds=7 ms=200
while (($#)); do
  case $1 in
    --build) build=${2:?--build needs a directory}; shift ;;
    --n1) n1=${2:?--n1 needs a number}; shift ;;
    --n2) n2=${2:?--n2 needs a number}; shift ;;
    --rounds) rounds=${2:?--rounds needs a number}; shift ;;
    --ms) ms=${2:?--ms needs a number}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench-bpfvm.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
for v in "$n1" "$n2" "$rounds" "$ms"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "bench-bpfvm.sh: not a positive number: $v" >&2; exit 2; }
done
((n1 < n2)) || { echo "bench-bpfvm.sh: --n1 must be smaller than --n2" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "bench-bpfvm.sh: needs valgrind" >&2; exit 1; }

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

configure_only "$build"
log "building $build/bpfvm/bpfvm_bench"
ninja -C "$build" bpfvm/bpfvm_bench >&2

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# One snapshot of the program: others may rebuild the build directory while this runs.
cp "$build/bpfvm/bpfvm_bench" "$tmp/bpfvm_bench"
bench=$tmp/bpfvm_bench

if ! "$bench" check >"$tmp/check" 2>&1; then
  cat "$tmp/check" >&2
  echo "bench-bpfvm.sh: bpfvm and bpf_filter disagree; not measuring" >&2
  exit 1
fi
frames=9

# ir ENGINE INDEX PASSES: total Ir of one run under callgrind.
ir() {
  local out=$tmp/cg.$1.$2.$3
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bench" count "$1" "$2" "$3" >/dev/null 2>"$out.log"
  awk '/^summary:/ { print $2 }' "$out"
}

mapfile -t exprs < <("$bench" list | cut -f2-)
mapfile -t insns < <(awk '{ print $1 }' "$tmp/check")
log "callgrind: ${#exprs[@]} expressions x 2 engines x 2 pass counts"
declare -A per
for i in "${!exprs[@]}"; do
  for engine in bpfvm pcap; do
    a=$(ir "$engine" "$i" "$n1")
    b=$(ir "$engine" "$i" "$n2")
    per[$engine.$i]=$(awk -v a="$a" -v b="$b" -v n=$(((n2 - n1) * frames)) 'BEGIN { printf "%.1f", (b - a) / n }')
  done
done
log "packets/s: $rounds rounds of $ms ms per engine and expression"
mapfile -t rates < <("$bench" rate "$rounds" "$ms")

# millions N: N as millions with one decimal ("11.0 M").
millions() {
  awk -v n="$1" 'BEGIN { printf "%.1f M", n / 1e6 }'
}

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain -- bpfvm 2>/dev/null | wc -l)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo "### bpfvm figures, $(date -u +%Y-%m-%d) (commit $commit$( ((dirty)) && echo ", with uncommitted changes in bpfvm/"))"
echo
echo "Machine: $(nproc) CPUs, $cpu, Linux $(uname -r), $(valgrind --version), libpcap $(dpkg-query -W -f='${Version}' libpcap0.8 2>/dev/null || echo '?'), build \`$build\` ($(meson introspect "$build" --buildoptions 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="buildtype"))' 2>/dev/null || echo '?'))."
echo
echo "Instructions per packet (callgrind Ir, N1 = $n1 and N2 = $n2 passes over $frames frames), and"
echo "packets/s (median of $rounds alternating rounds of $ms ms, one process):"
echo
echo "| expression | insns | bpfvm Ir/pkt | bpf_filter Ir/pkt | ratio (target ≤ 0.67) | bpfvm pkt/s | bpf_filter pkt/s | speed ratio |"
echo "|---|---|---|---|---|---|---|---|"
for i in "${!exprs[@]}"; do
  IFS=$'\t' read -r _ vm_rate pcap_rate speed <<<"${rates[$i]}"
  ratio=$(awk -v a="${per[bpfvm.$i]}" -v b="${per[pcap.$i]}" 'BEGIN { printf "%.2f", a / b }')
  # shellcheck disable=SC2016  # the backticks are Markdown, not a command
  printf '| `%s` | %s | %s | %s | %s | %s | %s | %s× |\n' "${exprs[$i]//|/\\|}" "${insns[$i]}" "${per[bpfvm.$i]}" \
    "${per[pcap.$i]}" "$ratio" "$(millions "$vm_rate")" "$(millions "$pcap_rate")" "$speed"
done
