"""Scenario 11: without rules, real failures reach the program with the kernel's own errno.

progs/errno_probe.py performs ~40 socket operations that fail (ECONNREFUSED on a blocking connect
to a closed port, EAGAIN on a non-blocking recv/read, EPIPE on a send to a closed socketpair with
SIGPIPE ignored, EBADF closing a bad fd, EISCONN, EADDRINUSE, ENOTCONN, ...) or succeed, and
prints what it saw. It runs plainly and under `sockshim run` (no rules); both outcome lists must
be identical, line for line, and the named ones are what Linux gives.
"""
import difflib
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

MUST = {
    "connect to a closed port (blocking)": "ECONNREFUSED",
    "recv on an empty non-blocking TCP socket": "EAGAIN",
    "read(2) on an empty non-blocking TCP socket": "EAGAIN",
    "recv on an empty non-blocking unix socket": "EAGAIN",
    "send to a socketpair whose peer closed (SIGPIPE ignored)": "EPIPE",
    "close of a bad fd": "EBADF",
    "close a socket's fd twice": "EBADF",
}


def outcomes(res):
    import json
    out = []
    for line in res.stdout.splitlines():
        try:
            out.append(tuple(json.loads(line)))
        except ValueError:
            h.fail(f"errno_probe printed a line that is not JSON: {line!r}")
    return out


def body(tmp):
    d = os.path.join(tmp, "u")
    os.mkdir(d)
    port = h.closed_port()
    plain = h.run_plain(h.python_prog("errno_probe.py", port, d))
    shim = h.run_shim(h.python_prog("errno_probe.py", port, d))
    h.expect("plain run: exit status", plain.rc, 0)
    h.expect("plain run: stderr", plain.stderr, "")
    h.expect("shim run: exit status", shim.rc, 0)
    h.expect("shim run: stderr", shim.stderr, "")
    p, s = outcomes(plain), outcomes(shim)
    h.check(len(p) >= 30, f"plain run: number of outcomes: got {len(p)}, want >= 30")
    if p != s:
        diff = "\n".join(difflib.unified_diff([repr(x) for x in p], [repr(x) for x in s],
                                              "plain", "under sockshim", lineterm=""))
        h.fail(f"outcomes differ under the shim:\n{diff}")
    for label, run in (("plain", dict(p)), ("shim", dict(s))):
        for case, want in MUST.items():
            h.expect(f"{label}: {case}", run.get(case), want)
    # The shim saw the traffic it had to be transparent to.
    if h.check(shim.data is not None, "shim run: no JSON document written by --json-out"):
        tcp = h.need_socket(shim.data, "inet", "stream", "tcp")
        if tcp:
            h.expect_ge("shim run: inet/stream/tcp connect_failed", tcp.get("connect_failed"), 1)
            h.expect("shim run: inet/stream/tcp faults_injected", tcp.get("faults_injected"), 0)
    if h._failures:
        plain.show()
        shim.show()
    chk_forms()


def chk_forms():
    """libc's _chk receive functions: the shim's hot paths make their size check and call the
    plain function, as libc's own do. A fitting buffer receives and is counted; one smaller than
    the length asked for ends the program with SIGABRT, with and without the shim."""
    for name in ("__recv_chk", "__recvfrom_chk", "__read_chk"):
        plain = h.run_plain(h.python_prog("chk_probe.py", name, 8, 16))
        shim = h.run_shim(h.python_prog("chk_probe.py", name, 8, 16))
        h.expect(f"{name} within its buffer, plain: output", plain.stdout, "8 01234567\n")
        h.expect(f"{name} within its buffer, shim: output", shim.stdout, "8 01234567\n")
        h.expect(f"{name} within its buffer, shim: exit status", shim.rc, 0)
        unix = h.need_socket(shim.data, "unix", "stream", "default") if shim.data else None
        if unix:
            h.expect(f"{name} within its buffer, shim: unix/stream recv_bytes", unix.get("recv_bytes"), 8)
        plain = h.run_plain(h.python_prog("chk_probe.py", name, 16, 8))
        shim = h.run_shim(h.python_prog("chk_probe.py", name, 16, 8))
        h.expect(f"{name} past its buffer, plain: killed by", plain.rc, -6)
        h.expect(f"{name} past its buffer, shim: exit status (128 + SIGABRT)", shim.rc, 134)
        h.check("buffer overflow detected" in shim.stderr,
                f"{name} past its buffer, shim: libc's message missing from stderr: {shim.stderr!r}")
        h.expect(f"{name} past its buffer, shim: nothing received", shim.stdout, "")


h.main("errno_transparency", body)
