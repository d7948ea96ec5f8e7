"""Scenario 8: sockets still open at exit() are reported as leaks, with their addresses.

CPython closes socket objects when it finalizes, so a plain `sys.exit(0)` leaks nothing (the
control case: closed 1, no leaks). A C-style leak is made with os.dup: the duplicate fd is never
closed, so it is a leak and the socket's last close never happens (closed 0).
  (a) python3 -c "...; s.listen(); os.dup(s.fileno())"  -> one leaked inet/stream/tcp socket,
      local 127.0.0.1:PORT
  (b) progs/leak_dups.py: leaked TCP listener, client, accepted socket, unix listener and IPv6
      listener, each with its fd and exact local/peer address.
"""
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

LISTEN = ("import socket, os, sys; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); "
          "print(s.getsockname()[1])")


def one_listener(leak):
    what = "dup leak" if leak else "control (no dup)"
    code = LISTEN + ("; os.dup(s.fileno())" if leak else "; sys.exit(0)")
    r = h.run_shim([h.PYTHON, "-I", "-c", code])
    bad = len(h._failures)
    h.expect(f"{what}: sockshim run exit status", r.rc, 0)
    if not r.stdout.strip().isdigit() or r.data is None:
        h.fail(f"{what}: no port printed or no JSON document")
        r.show()
        return
    port = int(r.stdout)
    tcp = h.need_socket(r.data, "inet", "stream", "tcp")
    h.expect_counters(f"{what}: inet/stream/tcp", tcp, {
        "opened": 1, "listened": 1, "closed": 0 if leak else 1, "close_failed": 0})
    procs = h.processes(r.data)
    if h.expect(f"{what}: number of process records", len(procs), 1):
        p = procs[0]
        h.expect(f"{what}: process state", p.get("state"), "exited")
        h.expect(f"{what}: process exit", p.get("exit"), 0)
        want = [{"family": "inet", "type": "stream", "protocol": "tcp",
                 "local": f"127.0.0.1:{port}", "peer": ""}] if leak else []
        got = [{k: x.get(k) for k in ("family", "type", "protocol", "local", "peer")}
               for x in p.get("leaked", [])]
        h.expect(f"{what}: leaked_count", p.get("leaked_count"), len(want))
        h.expect(f"{what}: leaked (without fd)", got, want)
    if len(h._failures) > bad:
        r.show()


def many(tmp):
    d = os.path.join(tmp, "u")
    os.mkdir(d)
    r = h.run_shim(h.python_prog("leak_dups.py", d))
    bad = len(h._failures)
    h.expect("leak_dups: sockshim run exit status", r.rc, 0)
    try:
        made = json.loads(r.stdout)
    except ValueError:
        h.fail(f"leak_dups: output is not JSON: {r.stdout!r}")
        r.show()
        return
    if r.data is None:
        h.fail("leak_dups: no JSON document written by --json-out")
        r.show()
        return
    kinds = {"tcp_listener": ("inet", "tcp"), "tcp_client": ("inet", "tcp"),
             "tcp_accepted": ("inet", "tcp"), "unix_listener": ("unix", "default"),
             "tcp6_listener": ("inet6", "tcp")}
    want = sorted((m["fd"], kinds[k][0], "stream", kinds[k][1], m["local"], m.get("peer", ""))
                  for k, m in made.items())
    procs = h.processes(r.data)
    if h.expect("leak_dups: number of process records", len(procs), 1):
        p = procs[0]
        got = sorted((x.get("fd"), x.get("family"), x.get("type"), x.get("protocol"),
                      x.get("local"), x.get("peer")) for x in p.get("leaked", []))
        h.expect("leak_dups: leaked (fd, family, type, protocol, local, peer)", got, want)
        h.expect("leak_dups: leaked_count", p.get("leaked_count"), len(want))
    h.expect_counters("leak_dups: inet/stream/tcp", h.need_socket(r.data, "inet", "stream", "tcp"),
                      {"opened": 2, "listened": 1, "connected": 1, "accepted": 1, "closed": 0})
    h.expect_counters("leak_dups: unix/stream", h.need_socket(r.data, "unix", "stream", "default"),
                      {"opened": 1, "listened": 1, "closed": 0})
    if len(h._failures) > bad:
        r.show()


def body(tmp):
    one_listener(leak=False)
    one_listener(leak=True)
    many(tmp)


h.main("leaks", body)
