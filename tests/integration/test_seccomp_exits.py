"""Issue 16: exit status and leaks of processes other than the command in seccomp mode.

The supervisor holds a pidfd of every process it serves; once one has ended and its parent
reaped it, PIDFD_GET_INFO with PIDFD_INFO_EXIT (Linux 6.15) says how, from any process holding
the pidfd: its record becomes `exited` with its status and the sockets it left open (those the
supervisor knows: fd, cookie, ports), or `killed` with 128+signal. Nothing is added to the
program's path: no call is notified for it, so nothing can hang or fail when the supervisor is
gone (docs/shim.md, "Process records in seccomp mode").

progs/child_exits.py: child A leaves with os._exit(3) and one TCP socket open, child B is killed
by SIGKILL, grandchild G exits 6 with a UDP socket open (its parent C, which makes no socket
call, reaps it: C is met as a child of the command when the command waits, and exits 0), the command exits 0 with its listener open. The records
must say exactly that (under the preload object A and G would be `vanished`: _exit runs no exit
handler).
Skipped (77) without seccomp user notification or without PIDFD_INFO_EXIT (Linux < 6.15).
"""
import fcntl
import os
import struct
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def need_pidfd_exit_info():
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    fd = os.pidfd_open(pid)
    os.waitpid(pid, 0)
    buf = bytearray(struct.pack("QQ11Ii", 1 << 3, 0, *([0] * 11), 0))
    try:
        fcntl.ioctl(fd, (3 << 30) | (64 << 16) | (0xFF << 8) | 11, buf, True)
    except OSError as e:
        h.skip(f"PIDFD_GET_INFO refused ({e}): Linux 6.15 or later needed")
    finally:
        os.close(fd)
    mask, *_rest, code = struct.unpack("QQ11Ii", buf)
    if not mask & (1 << 3) or code != 7 << 8:
        h.skip("PIDFD_INFO_EXIT unavailable: Linux 6.15 or later needed")


def body(tmp):
    h.need_seccomp()
    need_pidfd_exit_info()
    r = h.run_shim(h.python_prog("child_exits.py"), options=["--intercept", "seccomp"], timeout=30)
    h.expect("exit", r.rc, 0)
    pids = {}
    for line in r.stdout.splitlines():
        words = line.split()
        pids[words[0]] = int(words[1])
    h.expect("children named", sorted(pids), ["A", "B", "C", "G"])
    if r.data is None or len(pids) != 4:
        h.fail("no JSON document or children")
        return
    recs = {p["pid"]: p for p in r.data.get("processes", [])}

    def rec(name):
        return recs.get(pids[name], {})

    a, b, g = rec("A"), rec("B"), rec("G")
    h.expect("A: state, exit", (a.get("state"), a.get("exit")), ("exited", 3))
    h.expect("A: leaked count", a.get("leaked_count"), 1)
    h.expect("B: state, exit", (b.get("state"), b.get("exit")), ("killed", 137))
    h.expect("G: state, exit", (g.get("state"), g.get("exit")), ("exited", 6))
    h.expect("G: leaked count", g.get("leaked_count"), 1)
    # C makes no socket call: the supervisor meets it among the command's children before the
    # command's wait reaps it (docs/shim.md, "Process records in seccomp mode").
    c = rec("C")
    h.expect("C: state, exit, leaks", (c.get("state"), c.get("exit"), c.get("leaked_count")), ("exited", 0, 0))
    main = [p for p in r.data["processes"] if p["pid"] not in pids.values()]
    h.expect("the command: state, exit", [(p.get("state"), p.get("exit")) for p in main], [("exited", 0)])
    h.expect("the command: leaked count (its listener)", [p.get("leaked_count") for p in main], [1])
    # What the supervisor knows of a socket it can no longer ask: fd, kind, and ports.
    listener = [x.get("local") for p in main for x in p.get("leaked", [])]
    h.expect("A's leaked TCP socket: its peer is the command's listener",
             [(x.get("protocol"), x.get("peer")) for x in a.get("leaked", [])], [("tcp", listener[0] if listener else None)])
    h.expect("G's leaked socket", [(x.get("protocol"), x.get("local"), x.get("peer")) for x in g.get("leaked", [])],
             [("udp", "", "")])


h.main("seccomp_exits", body)
