"""Scenario 3: a UDP exchange by socat under the shim with an echo server (not under the shim).

`echo hi | socat -t0.5 - UDP4:127.0.0.1:PORT`: socat makes one inet/dgram/udp socket, connects it,
writes "hi\\n" once (3 bytes) and reads the 3-byte echo once (strace shows exactly one write(2)
and one read(2) on the socket). socat exits without closing its sockets, so the UDP socket is
not counted as closed and is a leak whose peer is the echo server.
"""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def body(tmp):
    socat = h.need_program("socat", "socat")
    with h.UdpEchoServer() as srv:
        r = h.run_shim([socat, "-t0.5", "-T5", "-", f"UDP4:127.0.0.1:{srv.port}"], input="hi\n")
        received = list(srv.received)
    h.expect("sockshim run exit status (socat's)", r.rc, 0)
    h.expect("socat's output (the echo)", r.stdout, "hi\n")
    h.expect("datagrams the echo server got", received, [b"hi\n"])
    if not h.check(r.data is not None, "no JSON document written by --json-out"):
        r.show()
        return
    udp = h.need_socket(r.data, "inet", "dgram", "udp")
    h.expect_counters("inet/dgram/udp", udp, {
        "opened": 1, "connected": 1, "connect_failed": 0, "connect_pending": 0,
        "listened": 0, "accepted": 0, "closed": 0, "open_failed": 0,
        "send_calls": 1, "send_bytes": 3, "recv_calls": 1, "recv_bytes": 3,
        "faults_injected": 0,
    })
    h.expect("inet/stream/tcp entry", h.sockets(r.data, "inet", "stream", "tcp"), None)

    procs = h.processes(r.data)
    if h.expect("number of process records", len(procs), 1):
        p = procs[0]
        h.expect("process argv0", p.get("argv0"), "socat")
        h.expect("process state", p.get("state"), "exited")
        h.expect("process exit", p.get("exit"), 0)
        udp_leaks = [x for x in p.get("leaked", []) if x.get("family") == "inet"]
        if h.expect("leaked inet sockets (socat exits without closing)", len(udp_leaks), 1):
            lk = udp_leaks[0]
            h.expect("leaked socket kind", (lk.get("type"), lk.get("protocol")), ("dgram", "udp"))
            h.expect("leaked socket peer", lk.get("peer"), f"127.0.0.1:{srv.port}")
            h.check(str(lk.get("local", "")).startswith("127.0.0.1:"),
                    f"leaked socket local: got {lk.get('local')!r}, want 127.0.0.1:<port>")
        h.expect("process leaked_count == len(leaked)", p.get("leaked_count"),
                 len(p.get("leaked", [])))
    if h._failures:
        r.show()


h.main("udp_socat", body)
