"""Issue 15: `"do": {"inbound_loss": P}` makes the shim attach bpfvm's loss filter (SO_ATTACH_FILTER,
SKF_AD_RANDOM) to the program's socket, and the kernel drops that fraction of what arrives.

- UDP: a python receiver under `sockshim run` whose bind matches a rule with inbound_loss 0.5
  gets 45..55 % of 10 000 paced datagrams; without the rule it gets all of them (which shows the
  pacing never overflows its receive buffer). A rule on `socket` with 0.2 lets 75..85 % through.
  With `"filter": "udp src port A"` and inbound_loss 1, nothing from port A arrives and all from
  port B does (the expression compiled by `sockshim run` with libpcap, relocated by bpfvm).
- TCP: a python receiver under the shim with inbound_loss 0.1 on the socket accept() gives it
  reads 8 MiB from a sender outside the shim, every byte right (SHA-256), and the sender's
  TCP_INFO counts retransmissions; without the rule at most a tail-loss probe or two. With a
  filter on PSH segments (0.3) it still completes; with inbound_loss 1 behind a filter no segment
  matches (URG) nothing is lost.
The stats count one armed socket (the rule's `fired`) per run.
"""
import hashlib
import json
import os
import random
import socket
import struct
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

DATAGRAMS = 10_000
TCP_BYTES = 8 << 20
TCPI_TOTAL_RETRANS = 100   # offset of tcpi_total_retrans in struct tcp_info (linux/tcp.h)


def in_thread(fn):
    """Runs fn in a thread; returns a function that joins it (bounded) and gives fn's result."""
    out = {}
    t = threading.Thread(target=lambda: out.update(value=fn()), daemon=True)
    t.start()

    def join(timeout=90):
        t.join(timeout)
        return out.get("value")
    return join


def udp_run(tmp, tag, rules):
    port_file = os.path.join(tmp, f"{tag}.port")
    done_file = os.path.join(tmp, f"{tag}.done")
    receiver = in_thread(lambda: h.run_shim(h.python_prog("udp_count.py", port_file, done_file),
                                            rules=rules, timeout=80))
    port = h.wait_file(port_file)
    if not h.check(port is not None, f"{tag}: the receiver never published its port"):
        open(done_file, "w").close()
        return receiver(), None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        # Paced: 10 datagrams a millisecond at most, far below what the receiver drains.
        for i in range(DATAGRAMS):
            tx.sendto(struct.pack("!I", i) + b"x" * 28, ("127.0.0.1", port))
            if i % 10 == 9:
                time.sleep(0.001)
    open(done_file, "w").close()
    r = receiver()
    if r is None or r.rc != 0:
        h.fail(f"{tag}: receiver under sockshim did not end cleanly")
        if r:
            r.show()
        return r, None
    return r, json.loads(r.stdout.strip().splitlines()[-1])["received"]


def udp_filter_run(tmp):
    """inbound_loss 1 limited by a tcpdump expression to one of two senders' source ports."""
    port_file = os.path.join(tmp, "filter.port")
    done_file = os.path.join(tmp, "filter.done")
    tx_a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx_b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        tx_a.bind(("127.0.0.1", 0))
        tx_b.bind(("127.0.0.1", 0))
        a, b = tx_a.getsockname()[1], tx_b.getsockname()[1]
        rules = {"rules": [{"name": "udp-filter-loss", "on": "bind", "match": {"protocol": "udp"},
                            "do": {"inbound_loss": 1, "filter": f"udp src port {a}"}}]}
        receiver = in_thread(lambda: h.run_shim(h.python_prog("udp_count.py", port_file, done_file),
                                                rules=rules, timeout=80))
        port = h.wait_file(port_file)
        if port is None:
            open(done_file, "w").close()
            h.fail("filter: the receiver never published its port")
            return
        for i in range(500):
            tx_a.sendto(b"a" * 32, ("127.0.0.1", port))
            tx_b.sendto(b"b" * 32, ("127.0.0.1", port))
            if i % 5 == 4:
                time.sleep(0.001)
    finally:
        tx_a.close()
        tx_b.close()
    open(done_file, "w").close()
    r = receiver()
    if r is None or r.rc != 0:
        h.fail("filter: receiver under sockshim did not end cleanly")
        if r:
            r.show()
        return
    by_port = json.loads(r.stdout.strip().splitlines()[-1])["by_port"]
    h.expect(f"filter 'udp src port {a}', inbound_loss 1: datagrams from port {a}", by_port.get(str(a), 0), 0)
    h.expect(f"filter 'udp src port {a}', inbound_loss 1: datagrams from port {b}", by_port.get(str(b), 0), 500)
    h.expect("filter: sockets armed", fired(r, "udp-filter-loss"), 1)


def tcp_run(tmp, tag, rules):
    port_file = os.path.join(tmp, f"{tag}.port")
    receiver = in_thread(lambda: h.run_shim(h.python_prog("tcp_sink.py", port_file), rules=rules,
                                            timeout=80))
    port = h.wait_file(port_file)
    if not h.check(port is not None, f"{tag}: the receiver never published its port"):
        return receiver(), None, None
    payload = random.Random(15).randbytes(TCP_BYTES)
    with socket.create_connection(("127.0.0.1", port), timeout=60) as c:
        c.sendall(payload)
        c.shutdown(socket.SHUT_WR)
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = c.recv(256)
            if not chunk:
                break
            answer += chunk
        info = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
        retrans = struct.unpack_from("<I", info, TCPI_TOTAL_RETRANS)[0]
    r = receiver()
    want = f"{TCP_BYTES} {hashlib.sha256(payload).hexdigest()}\n".encode()
    h.expect(f"{tag}: byte count and SHA-256 the receiver read", answer, want)
    if r is None or r.rc != 0:
        h.fail(f"{tag}: receiver under sockshim did not end cleanly")
        if r:
            r.show()
    return r, answer, retrans


def fired(r, name):
    entry = h.rule(r.data, name) if r and r.data else None
    return entry.get("fired") if entry else None


def udp_loss_case(tmp, name, on, match, loss):
    """One UDP run with an inbound_loss rule: the share received is 1 - loss, within 5 points."""
    rules = {"rules": [{"name": name, "on": on, "match": match, "do": {"inbound_loss": loss}}]}
    r, received = udp_run(tmp, name, rules)
    if received is not None:
        share = received / DATAGRAMS
        low, high = 1 - loss - 0.05, 1 - loss + 0.05
        print(f"udp inbound_loss {loss} on {on}: {received} of {DATAGRAMS} received ({share:.1%})")
        h.check(low <= share <= high, f"{name}: got {share:.1%} received, want {low:.0%}..{high:.0%}")
    h.expect(f"{name}: sockets armed (the rule's fired)", fired(r, name), 1)


def body(tmp):
    _, plain = udp_run(tmp, "udp-plain", None)
    h.expect("udp without a rule: datagrams received", plain, DATAGRAMS)
    # The socket the receiver binds (armed before the real bind), and the one socket() makes
    # (armed right after the real call).
    udp_loss_case(tmp, "udp-bind-loss", "bind", {"protocol": "udp"}, 0.5)
    udp_loss_case(tmp, "udp-socket-loss", "socket", {"family": "inet", "type": "dgram"}, 0.2)

    udp_filter_run(tmp)

    # TCP: the rule arms the socket accept() returns.
    tcp_rules = {"rules": [{"name": "tcp-loss", "on": "accept", "match": {"protocol": "tcp"},
                            "do": {"inbound_loss": 0.1}}]}
    _, _, plain_retrans = tcp_run(tmp, "tcp-plain", None)
    r, _, lossy_retrans = tcp_run(tmp, "tcp-lossy", tcp_rules)
    print(f"tcp sender's retransmissions: {plain_retrans} without the rule, {lossy_retrans} with inbound_loss 0.1")
    # Loopback loses nothing, but a busy machine can delay the receiver's ACK past the sender's
    # tail-loss probe, which counts as a retransmission: allow two. With the rule, 8 MiB in
    # segments of at most 64 KiB is 128 or more segments, about 13 of them lost; fewer than 3 is
    # a 1-in-3000 event for a working filter.
    h.check(plain_retrans is not None and plain_retrans <= 2,
            f"tcp without a rule: sender's retransmissions: got {plain_retrans}, want at most 2")
    h.expect_ge("tcp inbound_loss 0.1: sender's retransmissions", lossy_retrans, 3)
    if plain_retrans is not None and lossy_retrans is not None:
        h.check(lossy_retrans > plain_retrans,
                f"tcp retransmissions: got {lossy_retrans} with the rule, want more than {plain_retrans} without")
    h.expect("tcp: sockets armed (the rule's fired)", fired(r, "tcp-loss"), 1)

    # Only segments with PSH are lost: the transfer still completes, byte for byte.
    psh_rules = {"rules": [{"name": "tcp-psh-loss", "on": "accept", "match": {"protocol": "tcp"},
                            "do": {"inbound_loss": 0.3, "filter": "tcp[tcpflags] & tcp-push != 0"}}]}
    r, _, psh_retrans = tcp_run(tmp, "tcp-psh", psh_rules)
    print(f"tcp sender's retransmissions with inbound_loss 0.3 on PSH segments: {psh_retrans}")
    h.expect_ge("tcp psh filter: sender's retransmissions", psh_retrans, 1)
    h.expect("tcp psh filter: sockets armed", fired(r, "tcp-psh-loss"), 1)
    # inbound_loss 1 behind an expression nothing matches (no segment is urgent): nothing is lost.
    # Without the filter, 1 would drop every segment and the transfer could never complete.
    urg_rules = {"rules": [{"name": "tcp-urg-loss", "on": "accept", "match": {"protocol": "tcp"},
                            "do": {"inbound_loss": 1, "filter": "tcp[tcpflags] & tcp-urg != 0"}}]}
    r, _, urg_retrans = tcp_run(tmp, "tcp-urg", urg_rules)
    h.check(urg_retrans is not None and urg_retrans <= 2,
            f"tcp, loss 1 on urgent segments only: sender's retransmissions: got {urg_retrans}, want at most 2")


h.main("inbound_loss", body)
