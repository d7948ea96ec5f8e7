#!/usr/bin/env bash
# TCP between the Linux kernel and the netstack TCP samples, over a TUN device in a network
# namespace this script creates (10.78.0.1 kernel side, 10.78.0.2 the sample; no other address):
#
#   --echo SAMPLE    tun_tcp_echo listens on port 7; a python3 client of the kernel sends
#                    --bytes of seeded random data and must get every byte back, in order.
#   --fetch SAMPLE   `python3 -m http.server` serves a file of --bytes seeded random bytes in the
#                    namespace; tun_tcp_connect fetches it with GET; the body must match.
#   --refused SAMPLE tun_tcp_connect to a kernel port nobody listens on must exit 1 at once,
#                    saying the connection was refused (the kernel's RST reached the endpoint).
#
# --loss P puts the sample's chaos link under its stack (P each direction). With --pcap the
# sample's capture is then read by tshark (see check_pcap below). --check-pcap FILE runs only
# that check (no root needed), so the check itself can be tested on fixed captures.
# Exit status: 0 pass, 1 fail, 2 usage, 77 cannot run here (not root, no /dev/net/tun, no tool).
set -euo pipefail
# shellcheck source=scripts/netns-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/netns-lib.sh"

usage() {
  cat <<'USAGE'
usage: scripts/netns-tcp.sh (--echo PATH | --fetch PATH | --refused PATH) [--bytes N] [--loss P] [--seed N]
                            [--pcap FILE] [--expect-retransmissions] [--limit S]
       scripts/netns-tcp.sh --check-pcap FILE [--expect-retransmissions]

  --echo PATH      run tun_tcp_echo (PATH) and have the kernel send it data to echo
  --fetch PATH     run tun_tcp_connect (PATH) against python3 -m http.server in the namespace
  --refused PATH   run tun_tcp_connect (PATH) against a closed kernel port: it must fail, naming
                   the refusal, within 5 s
  --bytes N        bytes to echo / size of the served file (default 10485760 echo, 4194304 fetch)
  --loss P         the sample drops P of the packets in each direction (chaos link, 0..1)
  --seed N         seed of the data and of the chaos link (default 1)
  --pcap FILE      the sample captures to FILE; tshark then checks it:
                     no malformed packet, no bad IP/TCP checksum, no expert item of severity
                     error; SYN and SYN-ACK both carry SACK-permitted, timestamps and window
                     scale, and every later segment of both sides carries timestamps
  --pcap-side S    wire (default: at the TUN device) or stack (above the chaos link, what the
                   stack itself received and sent; for diagnosing the stack's recovery)
  --expect-retransmissions  the check also wants tshark's analysis to find retransmissions
                   (tcp.analysis.retransmission or fast_retransmission); implied by --loss > 0,
                   and for --echo with loss from both sides (data flows both ways)
  --limit S        seconds the transfer may take before it counts as failed (default 45)
  --check-pcap FILE  only run the tshark check on an existing capture
  -h, --help       this text

Needs root and /dev/net/tun; otherwise prints one line and exits 77 (meson's "skipped").
USAGE
}

mode="" sample="" bytes="" loss=0 seed=1 pcap="" pcap_side=wire want_retx=0 limit=45 check_only=""
while (($#)); do
  case $1 in
    --echo) mode="echo"; sample=${2:?--echo needs a path}; shift 2 ;;
    --fetch) mode=fetch; sample=${2:?--fetch needs a path}; shift 2 ;;
    --refused) mode=refused; sample=${2:?--refused needs a path}; shift 2 ;;
    --bytes) bytes=${2:?--bytes needs a number}; shift 2 ;;
    --loss) loss=${2:?--loss needs a probability}; shift 2 ;;
    --seed) seed=${2:?--seed needs a number}; shift 2 ;;
    --pcap) pcap=${2:?--pcap needs a file}; shift 2 ;;
    --pcap-side) pcap_side=${2:?--pcap-side needs wire or stack}; shift 2 ;;
    --expect-retransmissions) want_retx=1; shift ;;
    --limit) limit=${2:?--limit needs seconds}; shift 2 ;;
    --check-pcap) check_only=${2:?--check-pcap needs a file}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "netns-tcp.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done

# check_pcap FILE: what tshark must (not) find in a capture of one of these runs. One tshark
# pass prints, per packet, the fields the verdicts need; awk tallies them.
# tshark's expert info also flags ordinary TCP events (retransmissions, duplicate ACKs, window
# updates, "previous segment not captured" where the chaos link dropped our segment before the
# capture point): those are warnings and notes and are reported, not failed. Only severity
# "error" (malformed packets, bad checksums, invalid option lengths) fails the check, as does a
# bad IP or TCP checksum or a malformed packet. Reassembly of the TCP stream into HTTP is off:
# with retransmissions, tshark's HTTP reassembly reports "New fragment overlaps old data" as an
# error although the bytes agree; the bytes themselves are compared by the run (sha256).
# Nothing above TCP is dissected: every port decodes as plain data (`-d tcp.port==1-65535,data`,
# heuristics tried after the port table), because the payload is random and the dissectors of
# other protocols call parts of it errors about their own framing, not TCP's: HTTP's dissector on
# port 8000 a segment that begins with CR LF and a printable byte ("leading CRLF"), the Thrift
# heuristic one that begins 0x82 0x41 ("varint too large"). Between them they failed a few
# percent of the fetch runs; the fixtures http_crlf.pcap and thrift_lookalike.pcap hold both.
check_pcap() {
  local f=$1 fields
  fields=$(mktemp)
  if ! tshark -r "$f" -d 'tcp.port==1-65535,data' -o tcp.try_heuristic_first:FALSE -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -o tcp.desegment_tcp_streams:FALSE -T fields -E separator='|' \
         -e frame.number -e ip.src -e tcp.srcport -e tcp.flags.syn -e tcp.flags.ack -e tcp.flags.reset \
         -e tcp.option_kind -e tcp.analysis.retransmission -e tcp.analysis.fast_retransmission \
         -e _ws.malformed -e ip.checksum.status -e tcp.checksum.status -e _ws.expert.severity -e tcp.checksum.ffff \
         >"$fields" 2>/dev/null; then
    echo "FAIL: tshark cannot read $f"; rm -f "$fields"; return 1
  fi
  # Fields: 1 frame, 2 src, 3 sport, 4 syn, 5 ack, 6 rst, 7 option kinds, 8 retransmission,
  # 9 fast retransmission, 10 malformed, 11 ip checksum status, 12 tcp checksum status (0 bad,
  # 1 good, 2 unverified), 13 expert severities (8388608 = error), 14 set when the TCP checksum is
  # 0xffff where tshark computes 0x0000: the same value in one's complement (RFC 1624), which
  # Linux sometimes sends and every receiver accepts; tshark says "Bad" (a warning), we count it
  # as good and report how many there were.
  awk -F'|' -v file="$f" -v want_retx="$want_retx" -v kernel=10.78.0.1 '
    function has(kinds, k,   a, n, i) { n = split(kinds, a, ","); for (i = 1; i <= n; i++) if (a[i] == k) return 1; return 0 }
    {
      frames++
      kind = ($2 == kernel) ? "kernel" : "stack"
      tcp_sum = $12
      if (tcp_sum == "0" && $14 != "") { tcp_sum = "1"; ffff++ }
      err = ($10 != "") || ($11 == "0") || (tcp_sum == "0") || has($13, 8388608)
      if (err) { bad++; if (bad <= 10) badlist = badlist " " $1 }
      if ($11 == "1" && (tcp_sum == "1" || tcp_sum == "")) good++
      if ($3 == "") next
      opts = has($7, 4) && has($7, 3) && has($7, 8)  # SACK-permitted, window scale, timestamps
      if ($4 == "1" && $5 == "0") { syn++; syn_ok += opts }
      else if ($4 == "1") { synack++; synack_ok += opts }
      else if ($6 != "1" && !has($7, 8)) { no_ts++; if (no_ts <= 10) nots = nots " " $1 }
      if ($6 == "1") rst++
      if ($8 != "" || $9 != "") retx[kind]++
      if (has($7, 5)) sack[kind]++
    }
    END {
      status = 0
      if (frames == 0) { print "FAIL: tshark reads no packets from " file; exit 1 }
      if (bad) { printf "FAIL: %d packets malformed, with a bad checksum or an expert error (frames%s)\n", bad, badlist; status = 1 }
      if (good == 0) { print "FAIL: tshark verified no checksum at all"; status = 1 }
      if (syn == 0 || synack == 0) { printf "FAIL: %d SYN and %d SYN-ACK segments, want both\n", syn, synack; status = 1 }
      else if (syn_ok != syn || synack_ok != synack) {
        printf "FAIL: SACK-permitted, window scale and timestamps not in every SYN (%d of %d) and SYN-ACK (%d of %d)\n", syn_ok, syn, synack_ok, synack
        status = 1
      }
      if (no_ts) { printf "FAIL: %d segments after the handshake without timestamps (frames%s)\n", no_ts, nots; status = 1 }
      if (ffff) printf "note: %d TCP checksums sent as 0xffff for 0x0000 (RFC 1624, accepted)\n", ffff
      printf "tshark: %d packets, %d with good checksums; retransmissions: %d by the kernel, %d by the stack; segments with SACK blocks: %d by the kernel, %d by the stack; RST: %d\n", frames, good, retx["kernel"], retx["stack"], sack["kernel"], sack["stack"], rst
      if (want_retx && retx["kernel"] + retx["stack"] == 0) { print "FAIL: tshark finds no retransmission, want some (a lossy run)"; status = 1 }
      else if (want_retx == 2 && (retx["kernel"] == 0 || retx["stack"] == 0)) { print "FAIL: tshark finds retransmissions by only one side, want both (a lossy echo)"; status = 1 }
      if (!status) print "PASS: tshark check of " file ": nothing malformed, no bad checksum, SACK/timestamps/window scale negotiated both ways"
      exit status
    }' "$fields"
  local rc=$?
  rm -f "$fields"
  return "$rc"
}

# A lossy echo carries data both ways, so both TCPs must have retransmitted (2: each side).
if [[ $loss != 0 ]]; then
  if [[ $mode == echo ]]; then want_retx=2; else want_retx=1; fi
fi
[[ -z $check_only ]] || netns_check_only netns-tcp.sh "$check_only"
[[ -n $mode ]] || { echo "netns-tcp.sh: give --echo PATH, --fetch PATH, --refused PATH or --check-pcap FILE" >&2; usage >&2; exit 2; }
[[ -x $sample ]] || { echo "netns-tcp.sh: $sample: not an executable" >&2; exit 2; }
[[ $bytes =~ ^[0-9]*$ ]] || { echo "netns-tcp.sh: --bytes $bytes: not a number" >&2; exit 2; }
if [[ -z $bytes ]]; then
  if [[ $mode == echo ]]; then bytes=10485760; else bytes=4194304; fi
fi

netns_require netns-tcp.sh "$pcap" ip python3 timeout

ns="netstack-tcp-$$"
dev="nstcp0"
kernel_addr=10.78.0.1
stack_addr=10.78.0.2
work=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do
    wait "$p" 2>/dev/null || true
  done
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

sample_timeout=$((limit + 10))
[[ $mode == refused ]] && sample_timeout=5
sample_args=(--tun "$dev" --addr "$stack_addr" --loss "$loss" --seed "$seed" --timeout "$sample_timeout")
[[ -n $pcap ]] && sample_args+=(--pcap "$pcap" --pcap-side "$pcap_side")

# wait_for SECONDS CMD...: retries CMD every 0.1 s until it succeeds or the time is up.
wait_for() {
  local tries=$(($1 * 10)) i
  shift
  for ((i = 0; i < tries; i++)); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}

status=0
start=$(date +%s.%N)
if [[ $mode == echo ]]; then
  port=7
  # Started directly (not through in_ns) so that $! is the sample itself.
  ip netns exec "$ns" "$sample" "${sample_args[@]}" --port "$port" >"$work/out" 2>"$work/err" &
  pids+=($!)
  if ! wait_for 5 grep -q '^ready' "$work/out"; then
    echo "FAIL: tun_tcp_echo did not get ready"; cat "$work/out" "$work/err" >&2; exit 1
  fi
  echo "sample: $(head -1 "$work/out")"
  # The kernel's side: one thread sends, the main one reads back, so neither direction's
  # window can stall the other; everything bounded by --limit.
  if in_ns timeout "$limit" python3 - "$stack_addr" "$port" "$bytes" "$seed" "$limit" <<'PY'
import hashlib, random, socket, sys, threading, time
addr, port, n, seed, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
data = random.Random(seed).randbytes(n)
deadline = time.monotonic() + limit
s = socket.create_connection((addr, port), timeout=10)
s.settimeout(5)
err = []
def send():
    try:
        view = memoryview(data)
        while view:
            k = s.send(view[:65536]); view = view[k:]
        s.shutdown(socket.SHUT_WR)
    except OSError as e:
        err.append("send: %s" % e)
t = threading.Thread(target=send); t.start()
h, got = hashlib.sha256(), 0
try:
    while time.monotonic() < deadline:
        chunk = s.recv(1 << 20)
        if not chunk: break
        h.update(chunk); got += len(chunk)
except OSError as e:
    err.append("recv after %d bytes: %s" % (got, e))
t.join(10)
s.close()
want = hashlib.sha256(data).hexdigest()
print("kernel client: sent %d bytes, got %d back, sha256 %s (want %s)%s" %
      (n, got, h.hexdigest()[:16], want[:16], "; " + "; ".join(err) if err else ""))
sys.exit(0 if got == n and h.hexdigest() == want and not err else 1)
PY
  then
    echo "PASS: $bytes bytes echoed by tun_tcp_echo, every byte back in order"
  else
    echo "FAIL: echo through tun_tcp_echo (loss $loss)"; status=1
  fi
elif [[ $mode == refused ]]; then
  rc=0
  ip netns exec "$ns" timeout 10 "$sample" "${sample_args[@]}" --connect "$kernel_addr:9" \
    </dev/null >"$work/reply" 2>"$work/err" || rc=$?
  if ((rc == 1)) && grep -q 'connect to .*: Connection refused' "$work/err"; then
    echo "PASS: tun_tcp_connect to a closed port: exit 1, $(grep -m1 'connect to' "$work/err")"
  else
    echo "FAIL: tun_tcp_connect to a closed port exited $rc, want 1 with 'Connection refused':"
    tail -5 "$work/err"; status=1
  fi
else
  port=8000
  mkdir "$work/www"
  python3 -c 'import random,sys; sys.stdout.buffer.write(random.Random(int(sys.argv[1])).randbytes(int(sys.argv[2])))' \
    "$seed" "$bytes" >"$work/www/blob"
  ip netns exec "$ns" python3 -m http.server "$port" --bind "$kernel_addr" --directory "$work/www" \
    >"$work/http.log" 2>&1 &
  pids+=($!)
  if ! wait_for 5 in_ns python3 -c 'import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 1).close()' \
       "$kernel_addr" "$port" 2>/dev/null; then
    echo "FAIL: python3 -m http.server did not start"; cat "$work/http.log" >&2; exit 1
  fi
  printf 'GET /blob HTTP/1.0\r\nHost: %s\r\n\r\n' "$kernel_addr" >"$work/request"
  ip netns exec "$ns" timeout "$limit" "$sample" "${sample_args[@]}" --connect "$kernel_addr:$port" \
    <"$work/request" >"$work/reply" 2>"$work/err" &
  pids+=($!)
  rc=0
  wait "${pids[-1]}" || rc=$?
  if ((rc != 0)); then
    echo "FAIL: tun_tcp_connect exited with $rc"; tail -20 "$work/err"; status=1
  elif python3 - "$work/reply" "$work/www/blob" <<'PY'
import hashlib, sys
reply, blob = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
head, sep, body = reply.partition(b"\r\n\r\n")
status = head.split(b"\r\n", 1)[0].decode(errors="replace")
print("reply: %s, %d body bytes, sha256 %s (want %d bytes, %s)" % (status, len(body),
      hashlib.sha256(body).hexdigest()[:16], len(blob), hashlib.sha256(blob).hexdigest()[:16]))
sys.exit(0 if sep and " 200 " in status + " " and body == blob else 1)
PY
  then
    echo "PASS: tun_tcp_connect fetched $bytes bytes from python3 -m http.server, every byte correct"
  else
    echo "FAIL: the fetched body differs from the served file"; status=1
  fi
  grep '^tun_tcp_connect:' "$work/err" || true
fi
echo "transfer took $(python3 -c 'import sys; print("%.2f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$start" "$(date +%s.%N)") s"

# Stop the sample (the echo serves until SIGTERM) and show its counters.
for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
pids=()
grep -E 'chaos|served|tcp\.' "$work/err" | head -40 || true

if [[ -n $pcap ]]; then
  check_pcap "$pcap" || status=1
fi
exit "$status"
