"""sendfile(2) on a socket is a send: python's socket.sendfile() (os.sendfile underneath) of a
300 KiB file to a loopback server (in this process, not under the shim).

(a) without rules: the server gets the file, and inet/stream/tcp's send_bytes is the file's size
    (every byte moved by sendfile; nothing else is sent on the socket).
(b) a send `fail` rule after the first hit: the first sendfile moves the file, the next (python
    calls it until it returns 0) fails, and socket.sendfile raises the rule's errno.
(c) a send `fail` rule on every hit: the first sendfile fails; python then falls back to send(),
    which fails too, so socket.sendfile raises the rule's errno and the rule fired twice.
(d) `corrupt` (one bit, once): the server gets the file's length with exactly one bit flipped (the
    shim read the range with pread, flipped the bit in a copy and sent that); the file's position
    is where an unfaulted send leaves it.
(e) UDP, os.sendfile without an offset (the file's position moves): 20 datagrams of 1000 bytes
    to an echo server; `duplicate` on every 4th send: those 5 arrive twice, each the same bytes
    (the copy is read from where the call read), and the position ends at the file's end.
(f) `short` (1000 bytes a call): the whole file still arrives, in more calls, every byte counted.
The pcap side (the bytes read back from the file) is test_capture.py's (o).
Each runs with the preload object and, where seccomp user notification works, again with
--intercept seccomp (the supervisor makes the sendfile: the same outcomes and counters).
"""
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SIZE = 300 * 1024


def send_rule(name, do, when=None):
    r = {"name": name, "on": ["send"], "match": {"protocol": "tcp"}, "do": do}
    if when:
        r["when"] = when
    return {"seed": 7, "rules": [r]}


def seccomp_works():
    r = h.run_plain([h.SOCKSHIM, "run", "--intercept", "seccomp", "--", "/bin/true"], timeout=20)
    return r.rc == 0


def run(mode, path, rules=None):
    """(result, what the server received, the stats' inet/stream/tcp entry)."""
    with h.TcpServer() as srv:
        r = h.run_shim(h.python_prog("sendfile_client.py", "127.0.0.1", srv.port, path), rules=rules,
                       options=["--intercept", mode])
        h.check(srv.wait_connections(1), "the server saw no connection end")
        got = srv.received[0] if srv.received else b""
    if r.rc != 0:
        r.show()
    return r, got, h.sockets(r.data, "inet", "stream", "tcp")


def udp_duplicate(tmp, mode):
    chunks = [bytes([i]) * 1000 for i in range(20)]
    path = os.path.join(tmp, "chunks.bin")
    with open(path, "wb") as f:
        f.write(b"".join(chunks))
    rules = {"seed": 7, "rules": [{"name": "twice", "on": ["send"], "match": {"protocol": "udp"},
                                   "do": {"duplicate": True}, "when": {"nth": 4}}]}
    with h.UdpEchoServer() as srv:
        r = h.run_shim(h.python_prog("sendfile_udp.py", "127.0.0.1", srv.port, path, 1000), rules=rules,
                       options=["--intercept", mode])
        h.expect(f"{mode} (e) program output", r.stdout.strip(), "sent 20000 at 20000")
        want = []
        for i, c in enumerate(chunks):
            want += [c, c] if (i + 1) % 4 == 0 else [c]
        deadline = time.monotonic() + 5
        while len(srv.received) < len(want) and time.monotonic() < deadline:
            time.sleep(0.01)
        got = list(srv.received)
    h.expect(f"{mode} (e) datagrams (their first bytes) the server got", [g[:1] for g in got], [w[:1] for w in want])
    h.check(got == want, f"{mode} (e) the datagrams differ from the file's chunks")
    h.expect_counters(f"{mode} (e) inet/dgram/udp", h.sockets(r.data, "inet", "dgram", "udp"),
                      {"send_bytes": 20000, "send_calls": 21})


def body(tmp):
    payload = os.urandom(SIZE)
    path = os.path.join(tmp, "file.bin")
    with open(path, "wb") as f:
        f.write(payload)
    for mode in ("preload", "seccomp") if seccomp_works() else ("preload",):
        cases(tmp, mode, path, payload)


def cases(tmp, mode, path, payload):
    r, got, tcp = run(mode, path)
    h.expect(f"{mode} (a) program output", r.stdout.strip(), f"sent {SIZE} at {SIZE}")
    h.check(got == payload, f"{mode} (a) the server got {len(got)} bytes, not the file's {SIZE}")
    h.expect_counters(f"{mode} (a) inet/stream/tcp", tcp, {"send_bytes": SIZE, "send_calls": (">=", 2)})

    rules = send_rule("fail-second", {"fail": "ENOBUFS"}, {"after": 1})
    r, got, tcp = run(mode, path, rules)
    h.expect(f"{mode} (b) program output", r.stdout.strip(), "errno ENOBUFS")
    h.expect(f"{mode} (b) rule fired", (h.rule(r.data, "fail-second") or {}).get("fired"), 1)
    h.expect(f"{mode} (b) bytes the server got", len(got), SIZE)
    h.expect_counters(f"{mode} (b) inet/stream/tcp", tcp, {"send_bytes": SIZE, "faults_injected": 1})

    rules = send_rule("fail-all", {"fail": "ENOBUFS"})
    r, got, tcp = run(mode, path, rules)
    h.expect(f"{mode} (c) program output", r.stdout.strip(), "errno ENOBUFS")
    h.expect(f"{mode} (c) rule fired (sendfile, then python's fallback send)",
             (h.rule(r.data, "fail-all") or {}).get("fired"), 2)
    h.expect(f"{mode} (c) bytes the server got", len(got), 0)

    rules = send_rule("flip", {"corrupt": 1}, {"times": 1})
    r, got, tcp = run(mode, path, rules)
    h.expect(f"{mode} (d) program output", r.stdout.strip(), f"sent {SIZE} at {SIZE}")
    if h.expect(f"{mode} (d) bytes the server got", len(got), SIZE):
        bits = sum(bin(a ^ b).count("1") for a, b in zip(got, payload))
        h.expect(f"{mode} (d) bits that differ from the file", bits, 1)
    h.expect_counters(f"{mode} (d) inet/stream/tcp", tcp, {"send_bytes": SIZE})

    udp_duplicate(tmp, mode)

    rules = send_rule("short", {"short": 1000})
    r, got, tcp = run(mode, path, rules)
    h.expect(f"{mode} (f) program output", r.stdout.strip(), f"sent {SIZE} at {SIZE}")
    h.check(got == payload, f"{mode} (f) the server got {len(got)} bytes, not the file")
    h.expect_counters(f"{mode} (f) inet/stream/tcp", tcp, {"send_bytes": SIZE, "send_calls": (">", SIZE // 1000)})


h.main("sendfile", body)
