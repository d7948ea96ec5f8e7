"""Scenario 4: AF_UNIX stream and datagram sockets on paths in a temp dir, in one python process.

stream: listener + client opened (2), listen 1, accept 1 (counted on the listener's cookie),
        connect 1, three closes (listener, client, accepted socket); 4 + 5 bytes each way.
dgram:  two bound sockets, sendto/recvfrom 5 + 2 bytes, both closed.
"""
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def body(tmp):
    d = os.path.join(tmp, "u")
    os.mkdir(d)
    r = h.run_shim(h.python_prog("unix_sockets.py", d))
    h.expect("sockshim run exit status (the program's)", r.rc, 0)
    try:
        seen = json.loads(r.stdout)
    except ValueError:
        seen = r.stdout
    h.expect("what the program saw", seen, {"server_got": "ping", "client_got": "pong!",
                                            "b_got": ["hello", "a.sock"],
                                            "a_got": ["hi", "b.sock"]})
    if not h.check(r.data is not None, "no JSON document written by --json-out"):
        r.show()
        return
    st = h.need_socket(r.data, "unix", "stream", "default")
    h.expect_counters("unix/stream", st, {
        "opened": 2, "listened": 1, "accepted": 1, "connected": 1, "closed": 3,
        "open_failed": 0, "listen_failed": 0, "accept_failed": 0, "connect_failed": 0,
        "close_failed": 0, "connect_pending": 0,
        "send_calls": 2, "send_bytes": 9, "recv_calls": 2, "recv_bytes": 9,
        "faults_injected": 0,
    })
    dg = h.need_socket(r.data, "unix", "dgram", "default")
    h.expect_counters("unix/dgram", dg, {
        "opened": 2, "closed": 2, "connected": 0, "listened": 0, "accepted": 0,
        "open_failed": 0, "close_failed": 0,
        "send_calls": 2, "send_bytes": 7, "recv_calls": 2, "recv_bytes": 7,
        "faults_injected": 0,
    })
    kinds = sorted((s.get("family"), s.get("type"), s.get("protocol"))
                   for s in r.data.get("sockets", []))
    h.expect("socket kinds counted", kinds,
             [("unix", "dgram", "default"), ("unix", "stream", "default")])
    procs = h.processes(r.data)
    if h.expect("number of process records", len(procs), 1):
        h.expect("process argv0", procs[0].get("argv0"), "python3")
        h.expect("process state", procs[0].get("state"), "exited")
        h.expect("process exit", procs[0].get("exit"), 0)
        h.expect("process leaked_count", procs[0].get("leaked_count"), 0)
    if h._failures:
        r.show()


h.main("unix_sockets", body)
