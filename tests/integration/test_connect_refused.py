"""Scenario 2: injected ECONNREFUSED on connect.

(a) A rule refusing connects to the HTTP server's port: curl fails with its exit code 7, which
    `sockshim run` passes on; the rule has 1 hit and 1 fire; the cookie shows the fault, the
    failed connect and no connection.
(b) A rule with "when": {"nth": 2}: a python client connects three times; exactly the second
    connect fails, with the ECONNREFUSED the program itself sees; the counters agree. The same
    with {"nth": 2, "times": 1} over four connects and {"times": 2} over three.
"""
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def curl_refused(tmp, curl):
    www = os.path.join(tmp, "www")
    os.mkdir(www)
    with open(os.path.join(www, "index.html"), "w") as f:
        f.write("hello\n")
    with h.HttpServer(www) as srv:
        rules = {"seed": 1, "rules": [{
            "name": "refuse-http", "on": ["connect"],
            "match": {"family": "inet", "type": "stream", "protocol": "tcp", "port": srv.port},
            "do": {"fail": "ECONNREFUSED"}}]}
        r = h.run_shim([curl, "-sS", "--noproxy", "*", "--max-time", "10", "-o", "/dev/null",
                        srv.url("/")], rules=rules)
    bad = len(h._failures)
    h.expect("curl: sockshim run exit status (curl's 'couldn't connect')", r.rc, 7)
    if not h.check(r.data is not None, "curl: no JSON document written by --json-out"):
        r.show()
        return
    ru = h.rule(r.data, "refuse-http")
    if ru:
        h.expect("curl: rule refuse-http hits", ru.get("hits"), 1)
        h.expect("curl: rule refuse-http fired", ru.get("fired"), 1)
    tcp = h.need_socket(r.data, "inet", "stream", "tcp")
    h.expect_counters("curl: inet/stream/tcp", tcp, {
        "opened": 1, "closed": 1, "faults_injected": 1, "connect_failed": 1, "connected": 0,
        "connect_pending": 0, "send_calls": 0, "recv_calls": 0,
    })
    procs = h.processes(r.data)
    if h.expect("curl: number of process records", len(procs), 1):
        h.expect("curl: process exit", procs[0].get("exit"), 7)
        h.expect("curl: process state", procs[0].get("state"), "exited")
        h.expect("curl: process leaked_count", procs[0].get("leaked_count"), 0)
    if len(h._failures) > bad:
        r.show()


def python_when(when, want_outcomes, want_hits, want_fired):
    what = f"python {json.dumps(when)}"
    with h.TcpServer() as srv:
        rules = {"seed": 1, "rules": [{
            "name": "refuse-some", "on": ["connect"],
            "match": {"family": "inet", "type": "stream", "port": srv.port},
            "when": when,
            "do": {"fail": "ECONNREFUSED"}}]}
        r = h.run_shim(h.python_prog("connect_n.py", "127.0.0.1", srv.port, len(want_outcomes)),
                       rules=rules)
        ok = want_outcomes.count("OK")
        srv.wait_connections(ok, timeout=3)
        served = len(srv.received)
    bad = len(h._failures)
    h.expect(f"{what}: sockshim run exit status", r.rc, 0)
    try:
        outcomes = json.loads(r.stdout)
    except ValueError:
        outcomes = r.stdout
    # The names are the errno module's: python saw errno.ECONNREFUSED itself.
    h.expect(f"{what}: connect outcomes", outcomes, want_outcomes)
    h.expect(f"{what}: connections the server accepted", served, ok)
    if not h.check(r.data is not None, f"{what}: no JSON document written by --json-out"):
        r.show()
        return
    ru = h.rule(r.data, "refuse-some")
    if ru:
        h.expect(f"{what}: rule hits", ru.get("hits"), want_hits)
        h.expect(f"{what}: rule fired", ru.get("fired"), want_fired)
    tcp = h.need_socket(r.data, "inet", "stream", "tcp")
    n = len(want_outcomes)
    h.expect_counters(f"{what}: inet/stream/tcp", tcp, {
        "opened": n, "closed": n, "connected": ok, "connect_failed": n - ok,
        "connect_pending": 0, "faults_injected": want_fired, "open_failed": 0, "close_failed": 0,
    })
    if len(h._failures) > bad:
        r.show()


def body(tmp):
    curl = h.need_program("curl", "curl")
    curl_refused(tmp, curl)
    # Every 2nd hit: connects 1 and 3 succeed, 2 is refused.
    python_when({"nth": 2}, ["OK", "ECONNREFUSED", "OK"], 3, 1)
    # Every 2nd hit, at most once: 4 is not refused although it is a 2nd.
    python_when({"nth": 2, "times": 1}, ["OK", "ECONNREFUSED", "OK", "OK"], 4, 1)
    # Every hit, at most twice.
    python_when({"times": 2}, ["ECONNREFUSED", "ECONNREFUSED", "OK"], 3, 2)


h.main("connect_refused", body)
