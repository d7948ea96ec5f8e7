"""Issue 3's actions on real programs, each as the program itself reports it:

(a) curl under hang_ms: the connect blocks for the time given, then fails ETIMEDOUT (curl exit 28); under
    --expect-fired the run fails (exit 4) when the rule never fired and passes when it did.
(b) python's http.client under `reset` on recv: ConnectionResetError (ECONNRESET).
(c) getaddrinfo `fail` EAI_NONAME on "*.test": `curl http://name.test/` exits 6; with delay_ms
    the lookup takes at least that long.
(d) UDP `drop` (every 2nd) and `duplicate` (every 5th), counted on the receiving side: the
    receiving socket's recv_calls in the stats and the program's own count agree.
(e) `corrupt` on every 10th datagram: the program's CRC32 check finds exactly those.
(f) `then.so_error`: python's non-blocking connect gets EINPROGRESS, then SO_ERROR ECONNREFUSED.
(g) the decision log: every fired fault is an event in the JSON, with rule, call and peer.
(h) every profile in docs/examples/ runs curl under `sockshim run` without a load error.
"""
import os
import sys
import time
import json

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def curl_hang(tmp, curl):
    with h.HttpServer(h.hello_site(tmp)) as srv:
        rules = {"rules": [{"name": "hang-http", "on": ["connect"], "match": {"port": srv.port},
                            "do": {"hang_ms": 700}},
                           {"name": "never", "on": ["connect"], "match": {"port": 1},
                            "do": {"fail": "ECONNREFUSED"}}]}
        argv = [curl, "-sS", "--noproxy", "*", "--max-time", "10", "-o", "/dev/null", srv.url("/")]
        t0 = time.monotonic()
        r = h.run_shim(argv, rules=rules, options=["--expect-fired", "hang-http"])
        took = time.monotonic() - t0
        h.expect("hang: curl exit status (connect ETIMEDOUT is curl's 'timed out')", r.rc, 28)
        h.check(took >= 0.7, f"hang: curl took {took:.2f} s, want >= 0.7 s")
        ev = (r.data or {}).get("events", [])
        h.expect("hang: events logged", [(e["rule"], e["call"], e["do"], e["error"]) for e in ev],
                 [("hang-http", "connect", "hang", "ETIMEDOUT")])
        if ev:
            h.expect("hang: event peer", ev[0]["peer"], f"127.0.0.1:{srv.port}")
        quiet = {"rules": rules["rules"][1:]}
        r = h.run_shim(argv, rules=quiet, options=["--expect-fired", "never"])
        h.expect("expect-fired on a rule that never fired: exit status", r.rc, 4)
        h.check("never fired" in r.stderr, f"expect-fired message: {r.stderr!r}")
        r = h.run_shim(argv, rules=quiet, options=["--expect-fired", "nevr"])
        h.expect("expect-fired naming no rule: exit status", r.rc, 2)


def python_reset(tmp):
    with h.HttpServer(h.hello_site(tmp)) as srv:
        rules = {"rules": [{"name": "rst", "on": ["recv"], "match": {"protocol": "tcp"},
                            "do": {"reset": True}}]}
        r = h.run_shim(h.python_prog("fault_probe.py", "http", srv.url("/")), rules=rules)
        h.expect("reset: exit", r.rc, 0)
        h.expect("reset: what http.client saw", json.loads(r.stdout or "{}"),
                 {"outcome": "ConnectionResetError", "errno": "ECONNRESET"})


def dns(curl):
    rules = {"rules": [{"name": "no-such-host", "on": ["getaddrinfo"], "match": {"host": "*.test"},
                        "do": {"fail": "EAI_NONAME"}}]}
    r = h.run_shim([curl, "-sS", "--noproxy", "*", "--max-time", "10", "http://name.test/"], rules=rules)
    h.expect("getaddrinfo fail: curl exit status (couldn't resolve host)", r.rc, 6)
    ru = h.rule(r.data, "no-such-host")
    if ru:
        h.expect("getaddrinfo fail: fired", ru.get("fired"), 1)
    slow = {"rules": [{"name": "slow-dns", "on": ["getaddrinfo"], "match": {"host": "localhost"},
                       "do": {"delay_ms": 400}}]}
    prog = [h.PYTHON, "-I", "-c", "import socket; socket.getaddrinfo('localhost', 80); print('ok')"]
    t0 = time.monotonic()
    r = h.run_shim(prog, rules=slow)
    took = time.monotonic() - t0
    h.expect("getaddrinfo delay: output", r.stdout.strip(), "ok")
    h.check(took >= 0.4, f"getaddrinfo delay: took {took:.2f} s, want >= 0.4 s")


def udp(what, rule, want_received, want_bad=0):
    r = h.run_shim(h.python_prog("udp_burst.py", 20), rules={"seed": 3, "rules": [rule]})
    h.expect(f"{what}: exit", r.rc, 0)
    try:
        got = json.loads(r.stdout)
    except ValueError:
        h.fail(f"{what}: no JSON from udp_burst.py: {r.stdout!r}")
        r.show()
        return
    h.expect(f"{what}: datagrams the program received", got["received"], want_received)
    h.expect(f"{what}: datagrams failing their CRC", got["bad_crc"], want_bad)
    sock = h.need_socket(r.data, "inet", "dgram", "udp")
    if sock:
        # 20 sends (minus the dropped ones, which are faults) and one recv per datagram received.
        h.expect(f"{what}: recv_calls counted on the receiving side", sock.get("recv_calls"),
                 want_received)


def so_error():
    with h.TcpServer() as srv:
        rules = {"rules": [{"name": "refuse-late", "on": ["connect"], "match": {"port": srv.port},
                            "then": {"so_error": "ECONNREFUSED"}}]}
        r = h.run_shim(h.python_prog("fault_probe.py", "nbconnect", "127.0.0.1", srv.port), rules=rules)
        h.expect("so_error: exit", r.rc, 0)
        h.expect("so_error: what python saw", json.loads(r.stdout or "{}"),
                 {"connect": "EINPROGRESS", "so_error": "ECONNREFUSED"})


def profiles(tmp, curl):
    """Every profile in docs/examples runs a real program: the shim loads it (no exit 2 or 3)."""
    examples = os.path.join(h.HERE, "..", "..", "docs", "examples")
    names = sorted(f for f in os.listdir(examples) if f.endswith(".json"))
    h.check(len(names) >= 6, f"profiles in docs/examples: {names}")
    with h.HttpServer(h.hello_site(tmp)) as srv:
        for name in names:
            r = h.run_shim([curl, "-sS", "--noproxy", "*", "--max-time", "10", "-o", "/dev/null",
                            srv.url("/")], rules=os.path.join(examples, name), timeout=30)
            h.check(r.rc not in (2, 3, 4) and r.data is not None,
                    f"profile {name}: exit {r.rc}, stderr {r.stderr.strip()!r}")
            h.check("sockshim:" not in r.stderr, f"profile {name}: {r.stderr.strip()!r}")


def body(tmp):
    curl = h.need_program("curl", "curl")
    profiles(tmp, curl)
    curl_hang(tmp, curl)
    python_reset(tmp)
    dns(curl)
    udp("drop every 2nd", {"name": "drop", "on": ["send"], "match": {"type": "dgram"},
                           "when": {"nth": 2}, "do": {"drop": True}}, 10)
    udp("duplicate every 5th", {"name": "dup", "on": ["send"], "match": {"type": "dgram"},
                                "when": {"nth": 5}, "do": {"duplicate": True}}, 24)
    udp("corrupt every 10th", {"name": "flip", "on": ["send"], "match": {"type": "dgram"},
                               "when": {"nth": 10}, "do": {"corrupt": 1}}, 20, want_bad=2)
    so_error()


h.main("fault_actions", body)
