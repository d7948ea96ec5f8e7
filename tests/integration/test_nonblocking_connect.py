"""Scenario 5: non-blocking connects (python: setblocking(False), connect_ex, select).

EINPROGRESS counts connect_pending; the completion counts connected (SO_ERROR 0 or the first
successful transfer) or connect_failed (SO_ERROR != 0, or the first transfer failing with the
connect's error). Four runs, each its own segment:
  refused  + getsockopt(SO_ERROR)   -> connect_failed 1, connected 0
  listener + getsockopt(SO_ERROR)   -> connected 1, connect_failed 0
  refused  + first send()           -> connect_failed 1, connected 0
  listener + first send()           -> connected 1, connect_failed 0
"""
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def one(mode, port, succeed):
    what = f"{mode}/{'listener' if succeed else 'refused'}"
    bad = len(h._failures)
    r = h.run_shim(h.python_prog("nonblocking_connect.py", mode, "127.0.0.1", port))
    h.expect(f"{what}: sockshim run exit status", r.rc, 0)
    try:
        out = json.loads(r.stdout)
    except ValueError:
        h.fail(f"{what}: program output is not JSON: {r.stdout!r}")
        r.show()
        return
    first = out.get("connect_ex")
    # On loopback Linux answers EINPROGRESS; a refusal reported at once is legal too.
    want_first = ("EINPROGRESS",) if succeed else ("EINPROGRESS", "ECONNREFUSED")
    h.check(first in want_first, f"{what}: connect_ex: got {first!r}, want one of {want_first}")
    pending = 1 if first == "EINPROGRESS" else 0
    if first == "EINPROGRESS":
        final = out.get("so_error") if mode == "sockopt" else out.get("send")
        h.expect(f"{what}: completion as the program saw it", final,
                 "OK" if succeed else "ECONNREFUSED")
    if not h.check(r.data is not None, f"{what}: no JSON document written by --json-out"):
        r.show()
        return
    tcp = h.need_socket(r.data, "inet", "stream", "tcp")
    want = {"opened": 1, "closed": 1, "connect_pending": pending,
            "connected": 1 if succeed else 0, "connect_failed": 0 if succeed else 1,
            "faults_injected": 0, "recv_calls": 0}
    if mode == "transfer":
        want.update({"send_calls": 1 if succeed else 0, "send_bytes": 1 if succeed else 0})
    else:
        want.update({"send_calls": 0, "send_bytes": 0})
    h.expect_counters(f"{what}: inet/stream/tcp", tcp, want)
    if len(h._failures) > bad:
        r.show()


def body(tmp):
    for mode in ("sockopt", "transfer"):
        one(mode, h.closed_port(), succeed=False)
        with h.TcpServer() as srv:
            one(mode, srv.port, succeed=True)


h.main("nonblocking_connect", body)
