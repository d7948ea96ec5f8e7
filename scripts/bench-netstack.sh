#!/usr/bin/env bash
# netstack's cost, measured (a benchmark: it reports figures and never fails on them).
#
#  1. UDP datagrams per second between two stacks joined by channel links (64-byte payloads,
#     Ethernet framing, ARP resolved before the clock starts; sender, both stacks and receiver
#     on one thread): the median of R runs of N datagrams.
#  2. Header parse + checksum cost for one 42-byte UDP packet (IPv4 parse, header checksum, UDP
#     parse, pseudo-header checksum): ns per packet (median of R runs), and instructions per
#     packet counted by callgrind at two loop counts N1 < N2, so start-up cancels out:
#         Ir/packet = (Ir(N2) - Ir(N1)) / (N2 - N1)
#     The same for one UDP datagram through both stacks.
#  3. TCP (tests/netstack/tcp_kernel/tcp_bench, when the build has TCP), everything pinned to one
#     core with `taskset -c 0`: bulk throughput of --tcp-bytes between two stacks over channel
#     links (raw IP, MTU 1500 and 65535; both stacks, sender and receiver on one thread), beside
#     the kernel's own loopback TCP moving the same bytes on one thread (sender and receiver
#     non-blocking in one loop; loopback's MTU is 65536) in the same rounds, alternating; and
#     connections per second (connect + accept + close both, --tcp-conns times) between two stacks.
#     Medians of R rounds; the ratio ours/kernel is the issue's target (>= 25 %).
#
# Prints a Markdown block on stdout (for docs/netstack.md and docs/performance.md); progress on stderr.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: scripts/bench-netstack.sh [--build DIR] [--n N] [--rounds R] [--no-callgrind]
                                 [--tcp-bytes N] [--tcp-conns N] [--no-tcp]

  --build DIR      build directory holding tests/netstack/netstack_bench (default build-net,
                   configured and built if needed)
  --n N            datagrams / packets per timed run (default 1000000)
  --rounds R       timed runs; the median is reported (default 5)
  --no-callgrind   skip the instruction counts (valgrind not needed then)
  --tcp-bytes N    bytes per TCP bulk run, ours and the kernel's (default 200000000)
  --tcp-conns N    connections per connections-per-second run (default 5000)
  --no-tcp         skip the TCP figures
  -h, --help       this text
USAGE
}

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

build=build-net n=1000000 rounds=5 callgrind=1 tcp=1 tcp_bytes=200000000 tcp_conns=5000
while (($#)); do
  case $1 in
    --build) build=${2:?}; shift 2 ;;
    --n) n=${2:?}; shift 2 ;;
    --rounds) rounds=${2:?}; shift 2 ;;
    --no-callgrind) callgrind=0; shift ;;
    --tcp-bytes) tcp_bytes=${2:?}; shift 2 ;;
    --tcp-conns) tcp_conns=${2:?}; shift 2 ;;
    --no-tcp) tcp=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench-netstack.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done

configure_only "$build"
log "building $build/tests/netstack/netstack_bench"
ninja -C "$build" tests/netstack/netstack_bench >&2
bench=$build/tests/netstack/netstack_bench
tcp_bench=$build/tests/netstack/tcp_kernel/tcp_bench
if ((tcp)) && ! ninja -C "$build" tests/netstack/tcp_kernel/tcp_bench >&2; then
  log "no tcp_bench in $build (a build without netstack/transport/tcp): skipping TCP"
  tcp=0
fi
pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)

# median KEY MODE: runs `bench MODE n` rounds times, prints the median of KEY.
median() {
  local key=$1 mode=$2 i
  for ((i = 0; i < rounds; i++)); do
    "$bench" "$mode" "$n" | awk -v k="$key" '$1 == k { print $2 }'
  done | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# ir MODE COUNT: instructions callgrind counts for `bench MODE COUNT`.
ir() {
  local out
  out=$(mktemp)
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bench" "$1" "$2" >/dev/null 2>&1
  awk '/^summary:/ { print $2 }' "$out"
  rm -f "$out"
}

log "udp: $rounds runs of $n datagrams"
udp_rate=$(median udp_datagrams_per_sec udp)
log "parse: $rounds runs of $n packets"
parse_ns=$(median parse_ns_per_packet parse)

echo "### netstack (scripts/bench-netstack.sh --n $n --rounds $rounds)"
echo
echo "$(uname -m), $(nproc) cores, $(c++ --version | head -1), build type $(meson introspect --buildoptions "$build" 2>/dev/null | python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="buildtype"))' 2>/dev/null || echo '?')"
echo
echo "| measure | value |"
echo "|---|---|"
echo "| UDP datagrams/s between two stacks over channel links (64 B, median of $rounds) | $udp_rate |"
echo "| IPv4+UDP parse and both checksums, ns/packet (42 B, median of $rounds) | $parse_ns |"
if ((callgrind)) && command -v valgrind >/dev/null; then
  n1=20000 n2=120000
  log "callgrind: parse at $n1 and $n2"
  p1=$(ir parse $n1) p2=$(ir parse $n2)
  log "callgrind: udp at $n1 and $n2"
  u1=$(ir udp $n1) u2=$(ir udp $n2)
  echo "| IPv4+UDP parse and both checksums, instructions/packet (callgrind) | $(( (p2 - p1) / (n2 - n1) )) |"
  echo "| one UDP datagram through both stacks (send, ARP-resolved Ethernet, receive, read), instructions (callgrind) | $(( (u2 - u1) / (n2 - n1) )) |"
fi

if ((tcp)); then
  # Rounds alternate ours and the kernel's so both see the same machine load; medians per kind.
  tmp=$(mktemp -d)
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  for ((i = 0; i < rounds; i++)); do
    log "tcp round $((i + 1))/$rounds: $tcp_bytes bytes kernel loopback, stacks at MTU 1500 and 65535; $tcp_conns connections"
    "${pin[@]}" "$tcp_bench" kernel-bulk "$tcp_bytes" | awk '$1 == "kernel_bulk_mb_per_sec" { print $2 }' >>"$tmp/kernel"
    "${pin[@]}" "$tcp_bench" stack-bulk "$tcp_bytes" 1500 | awk '$1 == "stack_bulk_mb_per_sec" { print $2 }' >>"$tmp/stack1500"
    "${pin[@]}" "$tcp_bench" stack-bulk "$tcp_bytes" 65535 | awk '$1 == "stack_bulk_mb_per_sec" { print $2 }' >>"$tmp/stack65535"
    "${pin[@]}" "$tcp_bench" stack-cps "$tcp_conns" | awk '$1 == "stack_connections_per_sec" { print $2 }' >>"$tmp/cps"
  done
  med() { sort -g "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
  range() { sort -g "$1" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "–" hi }'; }
  k=$(med "$tmp/kernel") s1=$(med "$tmp/stack1500") s64=$(med "$tmp/stack65535") cps=$(med "$tmp/cps")
  pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f %%", 100 * a / b }'; }
  echo
  echo "TCP, one core (\`${pin[*]:-unpinned}\`), $tcp_bytes bytes per bulk run, median of $rounds" \
       "(load average before: $load):"
  echo
  echo "| measure | median | range | of the kernel's loopback |"
  echo "|---|---|---|---|"
  echo "| kernel loopback TCP, one thread (MTU 65536), MB/s | $k | $(range "$tmp/kernel") | 100 % |"
  echo "| two stacks over channel links, MTU 65535, MB/s | $s64 | $(range "$tmp/stack65535") | $(pct "$s64" "$k") |"
  echo "| two stacks over channel links, MTU 1500, MB/s | $s1 | $(range "$tmp/stack1500") | $(pct "$s1" "$k") |"
  echo "| two stacks: connections/s (connect, accept, close both; $tcp_conns per run) | $cps | $(range "$tmp/cps") | |"
  rm -rf "$tmp"
fi
