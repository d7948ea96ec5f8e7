"""Scenario 6: a python parent forks; the child execs /usr/bin/python3 running a small client.

Both images add to one segment. Process records: the parent (ppid = `sockshim run`), the child's
pre-exec image (state "execed") and the child's python (ppid = the parent), both exited 0.
Sockets: the parent's a (close-on-exec) and b (inheritable), and the child's own connection:
opened 3, connected 3, closed 3 -- the child's closes of its inherited copies of a (after fork)
and b (after exec) are not counted, the parent's last closes are. Sent 3 + 2 + 5 bytes.
"""
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def body(tmp):
    with h.TcpServer() as srv:
        r = h.run_shim(h.python_prog("fork_exec.py", "127.0.0.1", srv.port))
        srv.wait_connections(3, timeout=5)
        received = sorted(srv.received)
    h.expect("sockshim run exit status (the parent's)", r.rc, 0)
    h.expect("what the server received", received, [b"abc", b"hello", b"xy"])
    try:
        out = json.loads(r.stdout)
    except ValueError:
        h.fail(f"program output is not JSON: {r.stdout!r}")
        r.show()
        return
    h.expect("child's wait status", out.get("child_status"), 0)
    parent, child = out.get("parent"), out.get("child")
    if not h.check(r.data is not None, "no JSON document written by --json-out"):
        r.show()
        return

    tcp = h.need_socket(r.data, "inet", "stream", "tcp")
    h.expect_counters("inet/stream/tcp (parent + child)", tcp, {
        "opened": 3, "connected": 3, "closed": 3, "connect_failed": 0, "close_failed": 0,
        "send_calls": 3, "send_bytes": 10, "recv_calls": 0, "faults_injected": 0,
    })

    procs = h.processes(r.data)
    h.expect("number of process records", len(procs), 3)
    summary = sorted((p.get("pid"), p.get("ppid"), p.get("argv0"), p.get("state"), p.get("exit"))
                     for p in procs if p.get("state") != "execed")
    h.expect("records of the final images (pid, ppid, argv0, state, exit)", summary,
             sorted([(parent, r.pid, "python3", "exited", 0),
                     (child, parent, "python3", "exited", 0)]))
    pre = [(p.get("pid"), p.get("ppid"), p.get("argv0")) for p in procs
           if p.get("state") == "execed"]
    h.expect("records of pre-exec images (pid, ppid, argv0)", pre, [(child, parent, "python3")])
    for p in procs:
        h.expect(f"leaked_count of pid {p.get('pid')} ({p.get('state')})",
                 p.get("leaked_count"), 0)
    if h._failures:
        r.show()


h.main("fork_exec", body)
