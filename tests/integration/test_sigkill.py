"""Scenario 7: a program killed by SIGKILL keeps its stats.

python opens a listener, connects a second socket to it, sends 10 bytes and SIGKILLs itself:
`sockshim run` exits 137; the JSON has the counters (opened 2, listened 1, connected 1, nothing
closed) and the process record is "killed" with exit 137. Then the same with --keep:
`sockshim stats NAME --json` after the run shows the same document; --remove deletes the
segment, after which `sockshim stats NAME` fails.
"""
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def check_doc(what, data, port, sockshim_pid):
    tcp = h.need_socket(data, "inet", "stream", "tcp")
    h.expect_counters(f"{what}: inet/stream/tcp", tcp, {
        "opened": 2, "listened": 1, "connected": 1, "accepted": 0, "closed": 0,
        "open_failed": 0, "listen_failed": 0, "connect_failed": 0, "connect_pending": 0,
        "send_calls": 1, "send_bytes": 10, "faults_injected": 0,
    })
    procs = h.processes(data)
    if h.expect(f"{what}: number of process records", len(procs), 1):
        p = procs[0]
        h.expect(f"{what}: process argv0", p.get("argv0"), "python3")
        h.expect(f"{what}: process state", p.get("state"), "killed")
        h.expect(f"{what}: process exit", p.get("exit"), 137)
        h.expect(f"{what}: process ppid (sockshim run)", p.get("ppid"), sockshim_pid)


def body(tmp):
    # Plain run: the JSON written by --json-out.
    r = h.run_shim(h.python_prog("kill_self.py"))
    h.expect("sockshim run exit status (128 + SIGKILL)", r.rc, 137)
    port = int(r.stdout.split()[0]) if r.stdout.strip().isdigit() else None
    h.check(port is not None, f"the program printed its port: got {r.stdout!r}")
    if h.check(r.data is not None, "no JSON document written by --json-out"):
        check_doc("--json-out", r.data, port, r.pid)
    if h._failures:
        r.show()

    # --keep, then `sockshim stats NAME --json`, then --remove.
    bad = len(h._failures)
    k = h.run_shim(h.python_prog("kill_self.py"), keep=True)
    h.expect("--keep: sockshim run exit status", k.rc, 137)
    h.check(f"sockshim stats {k.name}" in k.stderr,
            f"--keep: stderr names the kept segment: got {k.stderr!r}")
    if not h.check(os.path.exists(h.segment_path(k.name)),
                   f"--keep: {h.segment_path(k.name)} exists after the run"):
        k.show()
        return
    s = h.run_plain([h.SOCKSHIM, "stats", k.name, "--json"])
    h.expect("sockshim stats --json exit status", s.rc, 0)
    try:
        doc = json.loads(s.stdout)
    except ValueError:
        h.fail(f"sockshim stats --json output is not JSON: {s.stdout!r} {s.stderr!r}")
        doc = None
    if doc is not None:
        check_doc("sockshim stats --json", doc, None, k.pid)
        if k.data is not None:
            for key in ("version", "name", "sockets", "rules", "processes"):
                h.expect(f"stats --json {key} == --json-out {key}", doc.get(key), k.data.get(key))
    t = h.run_plain([h.SOCKSHIM, "stats", k.name])
    h.expect("sockshim stats (text) exit status", t.rc, 0)
    h.check("inet stream tcp" in t.stdout and "killed" in t.stdout,
            f"sockshim stats text names the cookie and the killed process: got {t.stdout!r}")
    rm = h.run_plain([h.SOCKSHIM, "stats", k.name, "--json", "--remove"])
    h.expect("sockshim stats --remove exit status", rm.rc, 0)
    h.expect("segment exists after --remove", os.path.exists(h.segment_path(k.name)), False)
    gone = h.run_plain([h.SOCKSHIM, "stats", k.name])
    h.expect("sockshim stats of a removed segment: exit status", gone.rc, 1)
    h.check(gone.stderr.startswith("sockshim: ") and k.name in gone.stderr,
            f"sockshim stats of a removed segment: stderr: got {gone.stderr!r}")
    if len(h._failures) > bad:
        k.show()


h.main("sigkill", body)
