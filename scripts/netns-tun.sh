#!/usr/bin/env bash
# Runs a netstack TUN sample inside a network namespace this script creates, and points the
# kernel's own tools at it: `ping -c 3` and/or a python3 UDP client. With --pcap the sample's
# capture is then read by tshark with IP/UDP/ICMP checksum validation on; any malformed packet,
# bad checksum or expert warning fails the run. Only addresses inside the namespace are used
# (10.77.0.1 kernel side, 10.77.0.2 the sample); the namespace and the sample are removed on exit.
# Exit status: 0 pass, 1 fail, 2 usage, 77 cannot run here (not root, no /dev/net/tun).
set -euo pipefail
# shellcheck source=scripts/netns-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/netns-lib.sh"

usage() {
  cat <<'USAGE'
usage: scripts/netns-tun.sh --sample PATH [--ping] [--udp] [--port N] [--pcap FILE]
       scripts/netns-tun.sh --check-pcap FILE [--ping] [--udp] [--port N]

  --sample PATH  tun_ping_responder or tun_udp_echo binary (build-*/netstack/...)
  --ping         the kernel's `ping -c 3` must get three replies
  --udp          a python3 UDP client's datagram must come back unchanged (tun_udp_echo only)
  --port N       UDP port of the echo (default 7)
  --pcap FILE    have the sample capture to FILE, then check it with tshark (no malformed
                 packets, no bad checksums, no expert warnings; the expected packets present)
  --check-pcap FILE  only run the tshark check on an existing capture (no root needed);
                 exit 1 when tshark flags anything or an expected packet is missing
  -h, --help     this text

Needs root and /dev/net/tun; otherwise prints one line and exits 77 (meson's "skipped").
USAGE
}

sample="" do_ping=0 do_udp=0 port=7 pcap="" check_only=""
while (($#)); do
  case $1 in
    --sample) sample=${2:?--sample needs a path}; shift 2 ;;
    --ping) do_ping=1; shift ;;
    --udp) do_udp=1; shift ;;
    --port) port=${2:?--port needs a number}; shift 2 ;;
    --pcap) pcap=${2:?--pcap needs a file}; shift 2 ;;
    --check-pcap) check_only=${2:?--check-pcap needs a file}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "netns-tun.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
# check_pcap FILE: tshark with checksum validation must find nothing wrong, and the packets the
# run should have produced (three echo replies for --ping, an echo for --udp) must be there.
check_pcap() {
  local pcap=$1 status=0 frames bad expert_bad replies echoes good tmp
  tmp=$(mktemp -d)
  local opts=(-o ip.check_checksum:TRUE -o udp.check_checksum:TRUE -o tcp.check_checksum:TRUE)
  tshark -r "$pcap" "${opts[@]}" -V >"$tmp/tshark" 2>&1 || { echo "FAIL: tshark cannot read $pcap"; status=1; }
  tshark -r "$pcap" "${opts[@]}" -q -z expert >"$tmp/expert" 2>&1 || true
  frames=$(grep -c '^Frame ' "$tmp/tshark" || true)
  bad=$(grep -E -i 'malformed|Checksum Status: Bad|\[Expert Info \((Error|Warning)' "$tmp/tshark" || true)
  expert_bad=$(grep -E '^(Errors|Warnings) \(' "$tmp/expert" || true)
  if [[ -n $bad || -n $expert_bad ]]; then
    echo "FAIL: tshark flags problems in $pcap:"; printf '%s\n' "$bad" "$expert_bad" | sort | uniq -c | head -20
    status=1
  fi
  replies=$(tshark -r "$pcap" -Y 'icmp.type == 0' 2>/dev/null | wc -l)
  echoes=$(tshark -r "$pcap" -Y "udp.srcport == $port" 2>/dev/null | wc -l)
  good=$(grep -c 'Checksum Status: Good' "$tmp/tshark" || true)
  ((do_ping && replies < 3)) && { echo "FAIL: $pcap holds $replies echo replies, want 3"; status=1; }
  ((do_udp && echoes < 1)) && { echo "FAIL: $pcap holds no UDP echo"; status=1; }
  ((good == 0)) && { echo "FAIL: tshark verified no checksum at all in $pcap"; status=1; }
  ((status == 0)) && echo "PASS: tshark reads $frames frames from $pcap: $good checksums good, none bad, nothing malformed"
  rm -rf "$tmp"
  return "$status"
}

[[ -z $check_only ]] || netns_check_only netns-tun.sh "$check_only"
[[ -x $sample ]] || { echo "netns-tun.sh: --sample $sample: not an executable" >&2; exit 2; }
((do_ping || do_udp)) || { echo "netns-tun.sh: nothing to do: give --ping and/or --udp" >&2; exit 2; }

netns_require netns-tun.sh "$pcap" ip ping python3

ns="netstack-tun-$$"
dev="nstun0"
kernel_addr=10.77.0.1
stack_addr=10.77.0.2
work=$(mktemp -d)
sample_pid=""
cleanup() {
  if [[ -n $sample_pid ]] && kill -0 "$sample_pid" 2>/dev/null; then
    kill -TERM "$sample_pid" 2>/dev/null || true
    wait "$sample_pid" 2>/dev/null || true
  fi
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$ns"
in_ns() { ip netns exec "$ns" "$@"; }
in_ns ip link set lo up
in_ns ip tuntap add dev "$dev" mode tun
in_ns ip addr add "$kernel_addr/24" dev "$dev"
in_ns ip link set "$dev" up

args=(--tun "$dev" --addr "$stack_addr" --timeout 60)
[[ $sample == *udp_echo* ]] && args+=(--port "$port")
[[ -n $pcap ]] && args+=(--pcap "$pcap")
# Started directly (not through the in_ns function) so that $! is the sample itself.
ip netns exec "$ns" "$sample" "${args[@]}" >"$work/out" 2>"$work/err" &
sample_pid=$!
for _ in $(seq 50); do
  grep -q '^ready' "$work/out" && break
  kill -0 "$sample_pid" 2>/dev/null || break
  sleep 0.1
done
if ! grep -q '^ready' "$work/out"; then
  echo "FAIL: the sample did not get ready"; cat "$work/out" "$work/err" >&2; exit 1
fi
echo "sample: $(head -1 "$work/out")"

status=0
if ((do_ping)); then
  if in_ns ping -c 3 -i 0.2 -W 2 "$stack_addr" >"$work/ping" 2>&1 && grep -q ' 3 received' "$work/ping"; then
    echo "PASS: ping -c 3 $stack_addr: 3 replies"
  else
    echo "FAIL: ping -c 3 $stack_addr"; cat "$work/ping"; status=1
  fi
fi
if ((do_udp)); then
  if in_ns python3 - "$stack_addr" "$port" <<'PY'
import socket, sys
addr, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
msg = b"netstack echo " + bytes(range(32, 127))
for attempt in range(3):
    s.sendto(msg, (addr, port))
    try:
        data, peer = s.recvfrom(2048)
    except socket.timeout:
        continue
    if data == msg and peer == (addr, port):
        sys.exit(0)
    print("wrong echo from %s: %r" % (peer, data)); sys.exit(1)
print("no echo after 3 attempts"); sys.exit(1)
PY
  then
    echo "PASS: UDP datagram to $stack_addr:$port echoed"
  else
    echo "FAIL: UDP echo"; status=1
  fi
fi

kill -TERM "$sample_pid"
wait "$sample_pid" || { echo "FAIL: the sample exited with $?"; cat "$work/err"; status=1; }
sample_pid=""

if [[ -n $pcap ]]; then
  check_pcap "$pcap" || status=1
fi
exit "$status"
