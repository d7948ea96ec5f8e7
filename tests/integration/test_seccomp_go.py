"""Issue 16: Go programs under `sockshim run` reach the supervisor through seccomp.

A Go net/http client (tests/integration/progs/go/httpget.go), built here both CGO_ENABLED=0
(static) and as a default cgo build (dynamic, yet its net package makes raw system calls), fetches
three pages from a Go net/http server on 127.0.0.1, each on a fresh connection:
  - plainly under `sockshim run` (auto chooses seccomp for both builds): the sockets opened are
    the socket() calls `strace -f -e trace=%net` sees; 3 TCP connects connected, 3 closed;
  - with a rule refusing connects to the server's port: the client prints Go's own
    "connection refused", the rule fired 3 times, --expect-fired passes;
  - with a rule refusing connects to port 53: Go's resolver reports the failed lookup of a name
    in the client's own output (a DNS failure for programs that never call getaddrinfo);
  - --expect-fired of a rule that cannot match fails the run (exit 4);
  - delay_ms on connect: the requests take that much longer; four clients delayed at once are
    delayed side by side, not one after another;
  - the server itself under `sockshim run --seccomp-rw`: the clients' connections counted
    accepted, and its reads and writes on them are the bytes the clients wrote and read;
  - sends and receives (Go's are write and read): with --seccomp-rw the bytes counted are those
    `strace -f -yy` sees write and read return on TCP sockets; without it and without a rule on
    send or recv, none; a `reset` on the 3rd send makes request 3 fail with Go's own "connection
    reset by peer", a `truncate` on recv makes every request fail with Go's own
    "transport connection broken"; a send rule on port 53 fails Go's lookup with "write:
    connection refused"; --expect-fired passes;
  - sendfile: progs/go/filecopy.go copies a 400 KiB file to a loopback receiver with io.Copy,
    which Go makes with sendfile(2) (as net/http's ServeFile does): without --seccomp-rw and
    without rules, send_bytes counts the file (nothing else is sent); a send `fail` rule on the
    receiver's port fails the copy in Go's own words (sendfile fails, then Go's fallback write).
Skipped (77) without golang-go or seccomp user notification.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

GO_SRC = os.path.join(h.PROGS, "go")


def build_go(out_dir):
    """Builds httpget (static and cgo), httpserve and filecopy into out_dir, once per test run; GOCACHE
    and GOPATH in a temp dir removed afterwards. Returns {name: path}."""
    go = h.need_program("go", "golang-go")
    os.makedirs(out_dir, exist_ok=True)
    cache = tempfile.mkdtemp(prefix="sockshim-it-gocache-")
    h.on_cleanup(lambda: shutil.rmtree(cache, ignore_errors=True))
    env = h.clean_env({"GOCACHE": os.path.join(cache, "cache"), "GOPATH": os.path.join(cache, "path"),
                       "GO111MODULE": "off", "GOFLAGS": "", "HOME": cache})
    built = {}
    for name, src, cgo in (("httpget-static", "httpget.go", "0"), ("httpget-cgo", "httpget.go", "1"),
                           ("httpserve", "httpserve.go", "0"), ("filecopy", "filecopy.go", "0")):
        path = os.path.join(out_dir, name)
        r = subprocess.run([go, "build", "-o", path, os.path.join(GO_SRC, src)], env=dict(env, CGO_ENABLED=cgo),
                           capture_output=True, text=True, timeout=240)
        if r.returncode != 0:
            h.fail(f"go build {name}: exit {r.returncode}: {r.stderr.strip()}")
            h.finish()
        built[name] = path
    return built


class GoServer:
    def __init__(self, path, tmp):
        self.portfile = os.path.join(tmp, "port")
        self.proc = subprocess.Popen([path, self.portfile], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, env=h.clean_env(), start_new_session=True)
        h.on_cleanup(self.stop)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not os.path.exists(self.portfile) and self.proc.poll() is None:
            time.sleep(0.05)
        with open(self.portfile) as f:
            self.port = int(f.read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)


def variant(label, client, url, port, tmp):
    argv = [client, url, "3"]
    plain = h.run_plain(argv)
    h.expect(f"{label} plain: exit", plain.rc, 0)
    h.expect(f"{label} plain: output", plain.stdout, "".join(f"request {i}: 200 hello\n" for i in (1, 2, 3)))
    strace_rc, strace_calls = h.strace_sockets(argv, tmp)
    h.expect(f"{label} under strace: exit", strace_rc, 0)

    r = h.run_shim(argv, options=["--summary"])
    bad = len(h._failures)
    h.expect(f"{label} sockshim run: exit", r.rc, 0)
    h.expect(f"{label} sockshim run: output", r.stdout, plain.stdout)
    h.check("intercept: seccomp" in r.stderr, f"{label}: --summary names the mode: got {r.stderr!r}")
    if h.check(r.data is not None, f"{label}: no JSON document"):
        h.expect(f"{label}: intercept mode", r.data.get("intercept", {}).get("mode"), "seccomp")
        h.expect(f"{label}: sockets opened (all kinds), as strace saw socket() succeed", h.total_opened(r.data),
                 strace_calls)
        tcp = h.need_socket(r.data, "inet", "stream", "tcp")
        h.expect_counters(f"{label}: inet/stream/tcp", tcp, {
            # httpget waits for its transport to close every connection before it exits
            "opened": (">=", 3), "connected": 3, "connect_failed": 0, "closed": 3})
        procs = h.processes(r.data)
        h.check(len(procs) >= 1 and procs[0].get("exit") == 0,
                f"{label}: the command's process record with exit 0: got {procs}")

    rules = {"seed": 1, "rules": [{
        "name": "refuse-go", "on": ["connect"],
        "match": {"family": "inet", "type": "stream", "peer": "127.0.0.1/32", "port": port},
        "do": {"fail": "ECONNREFUSED"}}]}
    f = h.run_shim(argv, rules=rules, options=["--expect-fired", "refuse-go"])
    h.expect(f"{label} refused: exit (the client's own 1, not 4)", f.rc, 1)
    h.expect(f"{label} refused: 'connection refused' lines", f.stdout.count("connect: connection refused"), 3)
    if f.data:
        ru = h.rule(f.data, "refuse-go")
        if ru:
            h.expect(f"{label} refused: fired", ru.get("fired"), 3)
        tcp = h.need_socket(f.data, "inet", "stream", "tcp")
        h.expect_counters(f"{label} refused: inet/stream/tcp", tcp, {
            "opened": 3, "closed": 3, "connect_failed": 3, "faults_injected": 3, "connected": 0})
        h.check(len(f.data.get("events", [])) == 3, f"{label} refused: 3 events: got {f.data.get('events')}")

    # DNS: Go's resolver (pure Go, or libc's in the cgo build: both make system calls seccomp mode
    # sees) connects a UDP socket to port 53, so a connect rule on port 53 is a DNS failure.
    dns = {"seed": 1, "rules": [{"name": "dns-down", "on": ["connect"], "match": {"port": 53},
                                 "do": {"fail": "ECONNREFUSED"}}]}
    d = h.run_shim([client, "http://sockshim-dns-test.invalid/", "1"], rules=dns, options=["--expect-fired", "dns-down"])
    h.expect(f"{label} DNS down: exit (the client's own 1, not 4)", d.rc, 1)
    h.check("lookup sockshim-dns-test.invalid" in d.stdout and "connect: connection refused" in d.stdout,
            f"{label} DNS down: Go's own lookup error: got {d.stdout!r}")
    if d.data:
        h.expect_counters(f"{label} DNS down: inet/dgram/udp", h.need_socket(d.data, "inet", "dgram", "udp"), {
            "connect_failed": (">=", 1), "connected": 0})

    never = {"seed": 1, "rules": [{"name": "never", "on": ["connect"], "match": {"port": 9},
                                   "do": {"fail": "ECONNREFUSED"}}]}
    n = h.run_shim(argv, rules=never, options=["--expect-fired", "never"])
    h.expect(f"{label} --expect-fired never: exit", n.rc, 4)
    if len(h._failures) > bad:
        for x in (r, f, d, n):
            x.show()


STRACE_TRANSFER = re.compile(r"^(\d+) +(read|write|readv|writev|sendto|recvfrom|sendmsg|recvmsg)\((\d+)<TCP(v6)?:")
STRACE_RESUMED = re.compile(r"^(\d+) +<\.\.\. (read|write|readv|writev|sendto|recvfrom|sendmsg|recvmsg) resumed>")
STRACE_RESULT = re.compile(r"\) += (-?\d+)")


def strace_bytes(argv, tmp):
    """(exit status, {"send": bytes, "recv": bytes}) moved on TCP sockets by argv, as `strace -f
    -yy` saw the calls return: what seccomp mode's send_bytes and recv_bytes must say."""
    strace = h.need_program("strace", "strace")
    out = os.path.join(tmp, "strace-bytes.out")
    calls = "read,write,readv,writev,sendto,recvfrom,sendmsg,recvmsg"
    r = h.run_plain([strace, "-f", "-qq", "-yy", "-e", f"trace={calls}", "-e", "signal=none", "-s", "0",
                     "-o", out] + list(argv), timeout=60)
    moved = {"send": 0, "recv": 0}
    pending = {}   # pid -> call of an <unfinished ...> TCP transfer
    with open(out) as f:
        for line in f:
            m = STRACE_TRANSFER.match(line)
            if m and line.rstrip().endswith("<unfinished ...>"):
                pending[m.group(1)] = m.group(2)
                continue
            if not m:
                m2 = STRACE_RESUMED.match(line)
                if not m2 or m2.group(1) not in pending:
                    continue
                call = pending.pop(m2.group(1))
            else:
                call = m.group(2)
            res = STRACE_RESULT.search(line)
            if res and int(res.group(1)) > 0:
                moved["send" if call in ("write", "writev", "sendto", "sendmsg") else "recv"] += int(res.group(1))
    return r.rc, moved


def transfers(label, client, url, port, tmp):
    """Sends and receives (Go's TCP is write and read): counted with --seccomp-rw as strace sees
    them move; a reset on the 3rd send and a truncate on recv show in the client's own output."""
    argv = [client, url, "3"]
    rc, moved = strace_bytes(argv, tmp)
    h.expect(f"{label} under strace -yy: exit", rc, 0)
    r = h.run_shim(argv, options=["--seccomp-rw"])
    h.expect(f"{label} --seccomp-rw: exit", r.rc, 0)
    h.expect(f"{label} --seccomp-rw: output", r.stdout, "".join(f"request {i}: 200 hello\n" for i in (1, 2, 3)))
    if r.data:
        tcp = h.need_socket(r.data, "inet", "stream", "tcp")
        h.expect(f"{label} --seccomp-rw: send_bytes, as strace saw write return", tcp.get("send_bytes"), moved["send"])
        h.expect(f"{label} --seccomp-rw: recv_bytes, as strace saw read return", tcp.get("recv_bytes"), moved["recv"])
        h.check(moved["send"] > 0 and moved["recv"] > 0, f"{label}: strace saw no bytes: {moved}")
        h.expect_counters(f"{label} --seccomp-rw: inet/stream/tcp", tcp, {
            "send_calls": 3, "recv_calls": (">=", 3), "connected": 3, "closed": 3})
    # Without --seccomp-rw and without a rule on send or recv, read and write stay in the kernel.
    plain = h.run_shim(argv)
    if plain.data:
        h.expect(f"{label} without --seccomp-rw: send_bytes (write is not handed over)",
                 h.need_socket(plain.data, "inet", "stream", "tcp").get("send_bytes"), 0)

    reset = {"seed": 1, "rules": [{"name": "reset-3rd-send", "on": ["send"],
                                   "match": {"protocol": "tcp", "port": port}, "when": {"nth": 3, "times": 1},
                                   "do": {"reset": True}}]}
    x = h.run_shim(argv, rules=reset, options=["--expect-fired", "reset-3rd-send"])
    h.expect(f"{label} reset on the 3rd send: exit (the client's own 1, not 4)", x.rc, 1)
    lines = x.stdout.splitlines()
    h.expect(f"{label} reset on the 3rd send: requests 1 and 2", lines[:2], ["request 1: 200 hello", "request 2: 200 hello"])
    # Go reports the reset from its write loop or its read loop, whichever notices first.
    h.check(len(lines) == 3 and lines[2].startswith("request 3: ") and "connection reset by peer" in lines[2],
            f"{label} reset on the 3rd send: Go's own 'connection reset by peer' on request 3: got {x.stdout!r}")
    if x.data:
        h.expect(f"{label} reset on the 3rd send: fired", (h.rule(x.data, "reset-3rd-send") or {}).get("fired"), 1)
        h.expect_counters(f"{label} reset on the 3rd send: inet/stream/tcp", h.need_socket(x.data, "inet", "stream", "tcp"),
                          {"faults_injected": 1, "send_calls": 2})

    trunc = {"seed": 1, "rules": [{"name": "truncate-recv", "on": ["recv"], "match": {"protocol": "tcp", "port": port},
                                   "then": {"truncate": 12}}]}
    t = h.run_shim(argv, rules=trunc, options=["--expect-fired", "truncate-recv"])
    h.expect(f"{label} truncate on recv: exit (the client's own 1, not 4)", t.rc, 1)
    lines = t.stdout.splitlines()
    h.check(len(lines) == 3 and all(f"request {i + 1}: Get " in line and "transport connection broken" in line
                                    for i, line in enumerate(lines)),
            f"{label} truncate on recv: Go's own 'transport connection broken' on every request: got {t.stdout!r}")
    if t.data:
        tcp = h.need_socket(t.data, "inet", "stream", "tcp")
        # Each receive gives the program at most 12 bytes: "HTTP/1.1 200", and what is left is lost.
        h.check(0 < tcp.get("recv_bytes", 0) <= 12 * tcp.get("recv_calls", 0),
                f"{label} truncate on recv: at most 12 bytes a receive: got {tcp}")
        h.expect(f"{label} truncate on recv: faults (a then is no fault)", tcp.get("faults_injected"), 0)


def dns_send_rule(label, client):
    """A send rule on port 53 (Go's resolver writes its UDP query): Go's own lookup error says the
    write was refused; no --seccomp-rw needed, the rule hands write to the supervisor."""
    rules = {"seed": 1, "rules": [{"name": "dns-send", "on": ["send"], "match": {"port": 53},
                                   "do": {"fail": "ECONNREFUSED"}}]}
    d = h.run_shim([client, "http://sockshim-dns-test.invalid/", "1"], rules=rules, options=["--expect-fired", "dns-send"])
    h.expect(f"{label} DNS send refused: exit (the client's own 1, not 4)", d.rc, 1)
    h.check("lookup sockshim-dns-test.invalid" in d.stdout and "write: connection refused" in d.stdout,
            f"{label} DNS send refused: Go's own lookup error: got {d.stdout!r}")
    if d.data:
        h.expect_counters(f"{label} DNS send refused: inet/dgram/udp", h.need_socket(d.data, "inet", "dgram", "udp"),
                          {"faults_injected": (">=", 1), "send_bytes": 0})


def delayed_connects(client, url, port):
    """delay_ms on connect: the client's requests take that much longer and succeed; four
    clients delayed at once are not served one after another (the supervisor never sleeps)."""
    rules = {"seed": 1, "rules": [{"name": "slow-connect", "on": ["connect"],
                                   "match": {"type": "stream", "port": port}, "do": {"delay_ms": 700}}]}
    start = time.monotonic()
    r = h.run_shim([client, url, "2"], rules=rules, options=["--expect-fired", "slow-connect"])
    took = time.monotonic() - start
    h.expect("delay_ms on connect: exit", r.rc, 0)
    h.expect("delay_ms on connect: output", r.stdout, "request 1: 200 hello\nrequest 2: 200 hello\n")
    h.check(took >= 1.4, f"delay_ms on connect: 2 connects delayed 0.7 s each took {took:.2f} s")
    if r.data:
        h.expect("delay_ms on connect: fired", (h.rule(r.data, "slow-connect") or {}).get("fired"), 2)
        h.expect_counters("delay_ms on connect: inet/stream/tcp", h.need_socket(r.data, "inet", "stream", "tcp"), {
            "connected": 2, "faults_injected": 0})   # a delay alone is no fault, as with the preload object

    rules["rules"][0]["do"] = {"delay_ms": 1000}
    script = f"for i in 1 2 3 4; do {client} {url} 1 & done; wait"
    start = time.monotonic()
    p = h.run_shim(["/bin/sh", "-c", script], rules=rules, options=["--intercept", "seccomp"])
    took = time.monotonic() - start
    h.expect("four delayed clients at once: output", sorted(p.stdout.splitlines()), ["request 1: 200 hello"] * 4)
    # One after another would take 4 s or more.
    h.check(1.0 <= took < 3.0, f"four clients delayed 1 s at once took {took:.2f} s, want 1-3 s")
    if p.data:
        h.expect("four delayed clients at once: fired", (h.rule(p.data, "slow-connect") or {}).get("fired"), 4)


def server_under_shim(built, tmp):
    """The Go server under `sockshim run --seccomp-rw` (seccomp: non-blocking accept4), the
    client plainly: its three connections are counted accepted, with the listener's cookie, and
    the server's reads and writes on them are the bytes the client wrote and read."""
    name = h.new_segment_name()
    h.on_cleanup(lambda: h.remove_segment(name))
    json_out = os.path.join(tmp, "server.json")
    portfile = os.path.join(tmp, "server-port")
    proc = subprocess.Popen([h.SOCKSHIM, "run", "--name", name, "--json-out", json_out, "--seccomp-rw", "--",
                             built["httpserve"], portfile],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env=h.clean_env(), start_new_session=True)
    h.on_cleanup(lambda: proc.poll() is None and os.killpg(proc.pid, 9))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not os.path.exists(portfile) and proc.poll() is None:
        time.sleep(0.05)
    if not h.check(os.path.exists(portfile), "server under sockshim: it never listened"):
        return
    with open(portfile) as f:
        port = int(f.read())
    client = [built["httpget-static"], f"http://127.0.0.1:{port}/", "3"]
    _, moved = strace_bytes(client, tmp)   # what the client writes and reads, 3 requests
    c = h.run_plain(client)
    h.expect("client of the server under sockshim: exit", c.rc, 0)
    proc.terminate()   # sockshim run forwards SIGTERM to the server
    _, err = proc.communicate(timeout=15)
    h.expect("server under sockshim: exit (SIGTERM)", proc.returncode, 128 + 15)
    with open(json_out) as f:
        data = json.load(f)
    tcp = h.need_socket(data, "inet", "stream", "tcp")
    h.expect_counters("server under sockshim: inet/stream/tcp", tcp, {
        "opened": 1, "listened": 1, "accepted": 6, "accept_failed": 0, "closed": (">=", 2),
        # two clients of 3 requests each (the one under strace, then this one)
        "recv_bytes": 2 * moved["send"], "send_bytes": 2 * moved["recv"]})


def sendfile_copy(built, tmp):
    """Go's io.Copy from a file to a TCP connection is sendfile(2): counted as a send in seccomp
    mode (no --seccomp-rw needed: sendfile always goes to the supervisor), and faulted by send rules."""
    size = 400 * 1024
    payload = os.urandom(size)
    path = os.path.join(tmp, "copied.bin")
    with open(path, "wb") as f:
        f.write(payload)
    with h.TcpServer() as srv:
        argv = [built["filecopy"], f"127.0.0.1:{srv.port}", path]
        r = h.run_shim(argv)
        h.check(srv.wait_connections(1), "go sendfile: the receiver saw no connection end")
        got = srv.received[0] if srv.received else b""
        h.expect("go sendfile: exit", r.rc, 0)
        h.expect("go sendfile: output", r.stdout, f"copied {size}\n")
        h.check(got == payload, f"go sendfile: the receiver got {len(got)} bytes, not the file's {size}")
        if r.data:
            h.expect("go sendfile: intercept mode", r.data.get("intercept", {}).get("mode"), "seccomp")
            h.expect_counters("go sendfile: inet/stream/tcp", h.need_socket(r.data, "inet", "stream", "tcp"),
                              {"send_bytes": (">=", size), "send_calls": (">=", 1), "faults_injected": 0})
        rules = {"seed": 1, "rules": [{"name": "copy-refused", "on": ["send"], "match": {"port": srv.port},
                                       "do": {"fail": "ENOBUFS"}}]}
        f = h.run_shim(argv, rules=rules, options=["--expect-fired", "copy-refused"])
        h.expect("go sendfile refused: exit (the client's own 1, not 4)", f.rc, 1)
        h.check(f.stdout.startswith("copied 0: ") and "no buffer space available" in f.stdout,
                f"go sendfile refused: Go's own error: got {f.stdout!r}")
        if f.data:
            h.expect_counters("go sendfile refused: inet/stream/tcp", h.need_socket(f.data, "inet", "stream", "tcp"),
                              {"send_bytes": 0, "faults_injected": (">=", 1)})
        if r.rc != 0 or f.rc != 1:
            r.show()
            f.show()


def body(tmp):
    h.need_seccomp()
    built = build_go(os.environ.get("SOCKSHIM_GO_BUILD_DIR") or os.path.join(tmp, "go"))
    server = GoServer(built["httpserve"], tmp)
    url = f"http://127.0.0.1:{server.port}/"
    variant("go static", built["httpget-static"], url, server.port, tmp)
    variant("go cgo", built["httpget-cgo"], url, server.port, tmp)
    transfers("go static", built["httpget-static"], url, server.port, tmp)
    transfers("go cgo", built["httpget-cgo"], url, server.port, tmp)
    dns_send_rule("go static", built["httpget-static"])
    dns_send_rule("go cgo", built["httpget-cgo"])
    delayed_connects(built["httpget-static"], url, server.port)
    server_under_shim(built, tmp)
    sendfile_copy(built, tmp)

    # auto goes by the ELF sections Go's linker writes, not by strings: the sockshim command
    # itself mentions Go and must still run with the preload object.
    self_run = h.run_shim([h.SOCKSHIM, "--version"])
    h.expect("auto for a C++ program that mentions Go: mode",
             (self_run.data or {}).get("intercept", {}).get("mode"), "preload")

    # Rules seccomp mode cannot carry out yet are refused by name, by check and by run.
    rules = os.path.join(tmp, "rate.json")
    with open(rules, "w") as fh:
        fh.write('{"rules": [{"name": "slow-link", "on": ["connect"], "match": {"protocol": "tcp"}, '
                 '"do": {"rate": "1MiB/s"}}]}\n')
    c = h.run_plain([h.SOCKSHIM, "check", "--intercept", "seccomp", rules])
    h.expect("check --intercept seccomp (rate rule): exit", c.rc, 2)
    h.check("slow-link (line 1)" in c.stderr and "rate" in c.stderr and "seccomp" in c.stderr,
            f"check --intercept seccomp names the rule, its line, the key and the mode: got {c.stderr!r}")
    h.expect("check (rate rule, no --intercept): exit", h.run_plain([h.SOCKSHIM, "check", rules]).rc, 0)
    r = h.run_shim([built["httpget-static"], url, "1"], rules=rules)
    h.expect("run (auto → seccomp) with a rate rule: exit", r.rc, 2)
    h.check("slow-link" in r.stderr, f"run names the refused rule: got {r.stderr!r}")
    server.stop()


h.main("seccomp_go", body)
