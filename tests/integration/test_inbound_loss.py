"""Issue 15: `"do": {"inbound_loss": P}` makes the shim attach bpfvm's loss filter (SO_ATTACH_FILTER,
SKF_AD_RANDOM) to the program's socket, and the kernel drops that fraction of what arrives.

- UDP: a python receiver under `sockshim run` whose bind matches a rule with inbound_loss 0.5
  gets 45..55 % of 10 000 paced datagrams; without the rule it gets all of them (which shows the
  pacing never overflows its receive buffer). A rule on `socket` with 0.2 lets 75..85 % through.
- TCP: a python receiver under the shim with inbound_loss 0.1 on the socket accept() gives it
  reads 8 MiB from a sender outside the shim, every byte right (SHA-256), and the sender's
  TCP_INFO counts retransmissions; without the rule at most a tail-loss probe or two.
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


def wait_file(path, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                return int(f.read())
        time.sleep(0.01)
    return None


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
    port = wait_file(port_file)
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


def tcp_run(tmp, tag, rules):
    port_file = os.path.join(tmp, f"{tag}.port")
    receiver = in_thread(lambda: h.run_shim(h.python_prog("tcp_sink.py", port_file), rules=rules,
                                            timeout=80))
    port = wait_file(port_file)
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


def body(tmp):
    # UDP: the rule arms the socket the receiver binds.
    udp_rules = {"rules": [{"name": "udp-loss", "on": "bind", "match": {"protocol": "udp"},
                            "do": {"inbound_loss": 0.5}}]}
    r, plain = udp_run(tmp, "udp-plain", None)
    h.expect("udp without a rule: datagrams received", plain, DATAGRAMS)
    r, lossy = udp_run(tmp, "udp-lossy", udp_rules)
    if lossy is not None:
        share = lossy / DATAGRAMS
        print(f"udp inbound_loss 0.5: {lossy} of {DATAGRAMS} received ({share:.1%})")
        h.check(0.45 <= share <= 0.55, f"udp inbound_loss 0.5: got {share:.1%} received, want 45..55 %")
    h.expect("udp: sockets armed (the rule's fired)", fired(r, "udp-loss"), 1)
    # The same on the socket() that makes it (armed right after the real call), at 0.2.
    socket_rules = {"rules": [{"name": "udp-socket-loss", "on": "socket",
                               "match": {"family": "inet", "type": "dgram"}, "do": {"inbound_loss": 0.2}}]}
    r, lossy = udp_run(tmp, "udp-socket", socket_rules)
    if lossy is not None:
        share = lossy / DATAGRAMS
        print(f"udp inbound_loss 0.2 on socket: {lossy} of {DATAGRAMS} received ({share:.1%})")
        h.check(0.75 <= share <= 0.85, f"udp inbound_loss 0.2: got {share:.1%} received, want 75..85 %")
    h.expect("udp socket rule: sockets armed", fired(r, "udp-socket-loss"), 1)

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


h.main("inbound_loss", body)
