"""Issue 15, capture: `sockshim run --pcap FILE` on real programs, judged by tshark.

(a) curl (under the shim) fetches 300 KB from python's http.server (not under it): tshark finds
    no malformed packet, one TCP stream that starts with SYN, SYN-ACK, ACK and ends with a FIN
    each way, and `follow,tcp,raw` gives exactly the bytes curl's --trace says it sent and got.
(b) curl and http.server in one run: each byte is recorded by both ends, and still goes into
    the file once (the TCP payload in the file is exactly request + response).
(c) a `reset` rule on curl's recv: the file shows curl's side sending an RST.
(d) a `short` rule (10 bytes) on curl's first recv: the server's first data segment is 10 bytes.
(e) a `corrupt` rule on curl's send: the request in the file differs from curl's in one bit.
(f) UDP: 10 datagrams to an echo server with a `drop` rule on every 2nd send: the 5 dropped ones
    are absent, the others and their echoes are there, byte for byte.
(g) redis-benchmark against redis-server, both under the shim: no malformed packets, and the
    benchmark streams carry exactly the SET commands it was told to send and redis's +OK replies.
(h) the file is readable while the run goes on: a program under the shim that has sent its bytes
    and waits; tshark reads them from the file before the program ends.
(i) IPv6: (b) over ::1, IPv6 headers and the same exact bytes.
(j) --pcap with seccomp mode is refused (exit 2), naming the reason.
(l) a `duplicate` rule on UDP sends: each datagram twice in the file, its echoes too.
(n) UDP datagrams larger than a ring slot (4 025, 20 000 and 65 000 bytes) and their echoes are
    in the file whole.
(k) four curl processes at once in one run (a shell starts them): four streams in the file, each
    exactly the bytes its curl sent and received.
(m) one socket, several numbers and processes (a python program against a server not under the
    shim): sends alternately on a socket's two numbers (dup); parent and child sending in turn
    (fork); a child sending after its parent closed the socket, and exiting without closing it;
    a socket closed by close_range (os.closerange) and one replaced by dup2. Each stream is
    exactly the bytes the program sent and ends with one FIN from the program, after those bytes
    and before the program's next connection (not at the end of the run).
(o) sendfile: python's socket.sendfile() of a 300 KB file to a server not under the shim (the
    bytes never pass through the program's memory: the shim reads them back from the file at the
    call's offset): `follow,tcp,raw` is exactly the file; UDP datagrams sent with os.sendfile and
    no offset (the file's position) are in the file as the file's chunks, a `corrupt` one as the
    corrupted bytes that went out, a `duplicate` one twice (the copy read from where the call read).
"""
import os
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

TSHARK = None


def tshark(*args):
    r = subprocess.run([TSHARK, *args], capture_output=True, timeout=60,
                       env=h.clean_env({"HOME": h._tmpdir}))
    return r.stdout.decode("latin-1")


def malformed(pcap):
    """Packets tshark finds malformed or flags with an error (its expert info, TCP analysis too)."""
    return [l for l in tshark("-r", pcap, "-Y", "_ws.malformed || _ws.expert.severity >= error").splitlines()
            if l.strip()]


def malformed_check_works(tmp):
    """The check above must be able to fail: a raw-IP pcap whose IPv4 packet says TCP but holds
    only 4 bytes of its header is one tshark calls malformed."""
    import struct
    ip = bytes([0x45, 0, 0, 24, 0, 1, 0x40, 0, 64, 6, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]) + b"\x30\x39\x00\x50"
    path = os.path.join(tmp, "bad.pcap")
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 101))
        f.write(struct.pack("<IIII", 1, 0, len(ip), len(ip)) + ip)
    h.check(malformed(path), "the malformed-packet check finds nothing in a truncated TCP header")


def fields(pcap, flt, *names):
    args = ["-r", pcap, "-T", "fields", "-E", "separator=|"]
    if flt:
        args += ["-Y", flt]
    for n in names:
        args += ["-e", n]
    return [l.split("|") for l in tshark(*args).splitlines() if l.strip()]


def follow(pcap, stream):
    """tshark -z follow,tcp,raw,N: (bytes node 0 sent, bytes node 1 sent, node 0 "addr:port")."""
    out = tshark("-r", pcap, "-q", "-z", f"follow,tcp,raw,{stream}")
    a, b, node0 = bytearray(), bytearray(), None
    body = False
    for line in out.splitlines():
        if line.startswith("Node 0:"):
            node0 = line.split(None, 2)[2].strip()
        if line.startswith("Node 1:"):
            body = True
            continue
        if not body or line.startswith("===") or not line.strip():
            continue
        (b if line.startswith("\t") else a).extend(bytes.fromhex(line.strip()))
    return bytes(a), bytes(b), node0


def curl_trace(path):
    """What curl sent and received, from its --trace file (hex dumps of every send and recv)."""
    sent, got, cur = bytearray(), bytearray(), None
    with open(path, encoding="latin-1") as f:
        for line in f:
            if line.startswith("=> Send header") or line.startswith("=> Send data"):
                cur = sent
            elif line.startswith("<= Recv header") or line.startswith("<= Recv data"):
                cur = got
            elif line.startswith("=>") or line.startswith("<=") or line.startswith("=="):
                cur = None
            elif cur is not None and ": " in line and line[:4].strip().isalnum():
                hexpart = line.split(": ", 1)[1][:48]
                cur.extend(bytes.fromhex(hexpart.replace(" ", "")))
    return bytes(sent), bytes(got)


def curl_cmd(curl, trace, url, out="/dev/null"):
    return [curl, "-sS", "--noproxy", "*", "--max-time", "10", "--trace", trace, "-o", out, url]


def check_stream(label, pcap, sent, got):
    streams = sorted({int(r[0]) for r in fields(pcap, "tcp.len > 0", "tcp.stream")})
    if not h.expect(f"{label}: TCP streams with data", len(streams), 1):
        return
    a, b, _ = follow(pcap, streams[0])
    h.expect(f"{label}: follow client->server bytes (curl's --trace) length", len(a), len(sent))
    h.check(a == sent, f"{label}: follow client->server bytes differ from what curl sent")
    h.expect(f"{label}: follow server->client bytes length", len(b), len(got))
    h.check(b == got, f"{label}: follow server->client bytes differ from what curl received")
    total = sum(int(r[0]) for r in fields(pcap, "tcp.len > 0", "tcp.len"))
    h.expect(f"{label}: TCP payload bytes in the file (each byte once)", total, len(sent) + len(got))


def run_pcap(tmp, name, cmd, rules=None, timeout=30):
    pcap = os.path.join(tmp, name + ".pcap")
    r = h.run_shim(cmd, rules=rules, options=["--pcap", pcap, "--summary"], timeout=timeout)
    h.check("capture records (" not in r.stderr, f"{name}: sockshim reported lost capture records")
    h.check(os.path.exists(pcap), f"{name}: {pcap} was not written")
    ring = f"/dev/shm/sockshim-capture-{r.name}"
    h.check(not os.path.exists(ring), f"{name}: the run left its capture ring {ring} behind")
    return r, pcap


def curl_alone(tmp, curl, srv, payload):
    trace = os.path.join(tmp, "a.trace")
    out = os.path.join(tmp, "a.out")
    r, pcap = run_pcap(tmp, "a", curl_cmd(curl, trace, srv.url("/data.bin"), out))
    if not h.expect("(a) curl exit", r.rc, 0):
        r.show()
        return
    with open(out, "rb") as f:
        h.check(f.read() == payload, "(a) curl's download differs from the file")
    h.expect("(a) malformed or error packets", malformed(pcap), [])
    flags = [int(r[0], 16) for r in fields(pcap, "", "tcp.flags")]
    h.expect("(a) handshake flags (SYN, SYN-ACK, ACK)", flags[:3], [0x02, 0x12, 0x10])
    # curl closes its end (FIN); the server is not under the shim, and curl stops reading at
    # Content-Length, so the server's FIN is not known to the run.
    fins = fields(pcap, "tcp.flags.fin == 1", "tcp.srcport")
    h.expect("(a) FIN segments (curl's close)", [int(x[0]) != srv.port for x in fins], [True])
    sent, got = curl_trace(trace)
    h.expect_gt("(a) bytes curl received", len(got), len(payload))
    check_stream("(a)", pcap, sent, got)


def both_ends(tmp, curl, www, label="(b)", host="127.0.0.1"):
    port = h.free_port(socket.AF_INET6, host="::1") if ":" in host else h.free_port()
    trace = os.path.join(tmp, f"{label[1]}.trace")
    url = f"http://[{host}]:{port}/data.bin" if ":" in host else f"http://{host}:{port}/data.bin"
    driver = [h.PYTHON, os.path.join(h.PROGS, "capture_driver.py"), str(port), "15", "--",
              h.PYTHON, "-I", "-m", "http.server", "--bind", host, "--directory", www, str(port),
              "--", *curl_cmd(curl, trace, url)]
    r, pcap = run_pcap(tmp, label[1], driver)
    if not h.expect(f"{label} driver exit (curl's)", r.rc, 0):
        r.show()
        return
    h.expect(f"{label} malformed or error packets", malformed(pcap), [])
    sent, got = curl_trace(trace)
    check_stream(label, pcap, sent, got)
    summary = [l for l in r.stderr.splitlines() if l.startswith("capture:")]
    h.check(summary and summary[0].endswith(" 0 records lost"), f"{label} capture summary: {summary}")
    versions = {x[0] for x in fields(pcap, "tcp", "ip.version")}
    h.expect(f"{label} IP versions of the TCP packets", versions, {"6" if ":" in host else "4"})
    # Both ends closed: a FIN each way, each written once.
    h.expect(f"{label} FIN segments", len(fields(pcap, "tcp.flags.fin == 1", "tcp.srcport")), 2)


def reset_rule(tmp, curl, srv):
    trace = os.path.join(tmp, "c.trace")
    rules = {"rules": [{"name": "rst", "on": ["recv"], "match": {"protocol": "tcp"}, "do": {"reset": True}}]}
    r, pcap = run_pcap(tmp, "c", curl_cmd(curl, trace, srv.url("/data.bin")), rules=rules)
    h.expect("(c) curl exit (recv failure)", r.rc, 56)
    h.expect("(c) malformed or error packets", malformed(pcap), [])
    rst = fields(pcap, "tcp.flags.reset == 1", "tcp.srcport", "tcp.dstport")
    if h.expect("(c) RST segments", len(rst), 1):
        h.expect("(c) RST goes to the server's port", int(rst[0][1]), srv.port)


def short_rule(tmp, curl, srv, payload):
    trace = os.path.join(tmp, "d.trace")
    out = os.path.join(tmp, "d.out")
    rules = {"rules": [{"name": "short", "on": ["recv"], "match": {"type": "stream"},
                        "when": {"nth": 1}, "do": {"short": 10}}]}
    r, pcap = run_pcap(tmp, "d", curl_cmd(curl, trace, srv.url("/data.bin"), out), rules=rules)
    if not h.expect("(d) curl exit", r.rc, 0):
        r.show()
    lens = [int(x[0]) for x in fields(pcap, f"tcp.srcport == {srv.port} && tcp.len > 0", "tcp.len")]
    h.expect("(d) the server's first data segment (short read of 10)", lens[:1], [10])
    sent, got = curl_trace(trace)
    check_stream("(d)", pcap, sent, got)


def corrupt_rule(tmp, curl, srv):
    trace = os.path.join(tmp, "e.trace")
    rules = {"rules": [{"name": "flip", "on": ["send"], "match": {"type": "stream"},
                        "when": {"nth": 1}, "do": {"corrupt": 1}}]}
    r, pcap = run_pcap(tmp, "e", curl_cmd(curl, trace, srv.url("/data.bin")), rules=rules)
    sent, _ = curl_trace(trace)
    a, _, _ = follow(pcap, 0)
    if h.expect("(e) request length in the file", len(a), len(sent)):
        bits = sum(bin(x ^ y).count("1") for x, y in zip(a, sent))
        h.expect("(e) bits that differ from what curl sent (corrupt: 1)", bits, 1)


UDP_CLIENT = r"""
import socket, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
got = 0
for i in range(10):
    s.sendto(b"datagram-%d" % i, ("127.0.0.1", port))
    try:
        s.recvfrom(100)
        got += 1
    except socket.timeout:
        pass
print(got)
"""


def udp_duplicate(tmp):
    with h.UdpEchoServer() as echo:
        rules = {"rules": [{"name": "dup", "on": ["send"], "match": {"type": "dgram"}, "do": {"duplicate": True}}]}
        r, pcap = run_pcap(tmp, "l", [h.PYTHON, "-I", "-c", UDP_CLIENT, str(echo.port)], rules=rules)
    h.expect("(l) echoes received", r.stdout.strip(), "10")
    rows = fields(pcap, "udp", "udp.dstport", "udp.payload")
    to_echo = [bytes.fromhex(p.replace(":", "")) for d, p in rows if int(d) == echo.port]
    h.expect("(l) datagrams sent in the file (each twice)", to_echo, [b"datagram-%d" % (i // 2) for i in range(20)])


UDP_LARGE = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
for n in (4025, 20000, 65000):
    s.sendto(bytes(i * 7 % 251 for i in range(n)), ("127.0.0.1", int(sys.argv[1])))
    s.recvfrom(65536)
"""


def udp_large(tmp):
    with h.UdpEchoServer() as echo:
        r, pcap = run_pcap(tmp, "n", [h.PYTHON, "-I", "-c", UDP_LARGE, str(echo.port)])
    if not h.expect("(n) program exit", r.rc, 0):
        r.show()
        return
    h.expect("(n) malformed or error packets", malformed(pcap), [])
    rows = fields(pcap, "udp", "udp.dstport", "udp.payload")
    want = [bytes(i * 7 % 251 for i in range(n)) for n in (4025, 20000, 65000)]
    to_echo = [bytes.fromhex(p.replace(":", "")) for d, p in rows if int(d) == echo.port]
    back = [bytes.fromhex(p.replace(":", "")) for d, p in rows if int(d) != echo.port]
    h.expect("(n) sizes of the datagrams sent in the file", [len(x) for x in to_echo], [len(x) for x in want])
    h.check(to_echo == want, "(n) the datagrams sent differ from the program's")
    h.check(back == want, f"(n) the echoes differ from the datagrams ({[len(x) for x in back]})")


def sendfile(tmp, payload):
    path = os.path.join(tmp, "sendfile.bin")
    with open(path, "wb") as f:
        f.write(payload)
    with h.TcpServer() as srv:
        r, pcap = run_pcap(tmp, "o", h.python_prog("sendfile_client.py", "127.0.0.1", srv.port, path))
        srv.wait_connections(1)
    h.expect("(o) program output", r.stdout.strip(), f"sent {len(payload)} at {len(payload)}")
    h.expect("(o) malformed or error packets", malformed(pcap), [])
    streams = sorted({int(x[0]) for x in fields(pcap, "tcp.len > 0", "tcp.stream")})
    if h.expect("(o) TCP streams with data", len(streams), 1):
        a, b, _ = follow(pcap, streams[0])
        h.expect("(o) follow client->server bytes length", len(a), len(payload))
        h.check(a == payload, "(o) follow client->server bytes differ from the file sent")
        h.expect("(o) follow server->client bytes", b, b"")
    chunks = [bytes([65 + i]) * 1500 for i in range(6)]
    path = os.path.join(tmp, "chunks.bin")
    with open(path, "wb") as f:
        f.write(b"".join(chunks))
    rules = {"seed": 3, "rules": [{"name": "flip", "on": ["send"], "match": {"type": "dgram"},
                                   "when": {"after": 2, "times": 1}, "do": {"corrupt": 8}}]}
    with h.UdpEchoServer() as echo:
        r, pcap = run_pcap(tmp, "o-udp", h.python_prog("sendfile_udp.py", "127.0.0.1", echo.port, path, 1500),
                           rules=rules)
        time.sleep(0.2)
        echoed = list(echo.received)
    h.expect("(o) UDP program output", r.stdout.strip(), "sent 9000 at 9000")
    rows = fields(pcap, "udp", "udp.dstport", "udp.payload")
    to_echo = [bytes.fromhex(p.replace(":", "")) for d, p in rows if int(d) == echo.port]
    h.expect("(o) UDP datagrams the server got", len(echoed), 6)
    h.check(to_echo == echoed, "(o) the sendfile datagrams in the file differ from what the server got")
    h.check(to_echo[:2] + to_echo[3:] == chunks[:2] + chunks[3:], "(o) unfaulted datagrams differ from the file's chunks")
    h.check(len(to_echo) == 6 and len(to_echo[2]) == 1500 and to_echo[2] != chunks[2],
            "(o) the corrupted datagram is not in the file as corrupted")
    rules = {"rules": [{"name": "dup", "on": ["send"], "match": {"type": "dgram"},
                        "when": {"nth": 3}, "do": {"duplicate": True}}]}
    with h.UdpEchoServer() as echo:
        r, pcap = run_pcap(tmp, "o-dup", h.python_prog("sendfile_udp.py", "127.0.0.1", echo.port, path, 1500),
                           rules=rules)
    h.expect("(o) UDP duplicate program output", r.stdout.strip(), "sent 9000 at 9000")
    rows = fields(pcap, "udp", "udp.dstport", "udp.payload")
    to_echo = [bytes.fromhex(p.replace(":", "")) for d, p in rows if int(d) == echo.port]
    want = [c for i, c in enumerate(chunks) for _ in range(2 if i % 3 == 2 else 1)]
    h.expect("(o) duplicated sendfile datagrams in the file (first bytes)", [x[:1] for x in to_echo],
             [x[:1] for x in want])
    h.check(to_echo == want, "(o) the duplicated sendfile datagrams differ from the file's chunks")


def udp_drop(tmp):
    with h.UdpEchoServer() as echo:
        rules = {"rules": [{"name": "drop", "on": ["send"], "match": {"type": "dgram"},
                            "when": {"nth": 2}, "do": {"drop": True}}]}
        r, pcap = run_pcap(tmp, "f", [h.PYTHON, "-I", "-c", UDP_CLIENT, str(echo.port)], rules=rules)
    h.expect("(f) echoes received", r.stdout.strip(), "5")
    h.expect("(f) malformed or error packets", malformed(pcap), [])
    rows = fields(pcap, "udp", "udp.dstport", "udp.payload")
    to_echo = [bytes.fromhex(p.replace(":", "")) for d, p in rows if int(d) == echo.port]
    back = [bytes.fromhex(p.replace(":", "")) for d, p in rows if int(d) != echo.port]
    want = [b"datagram-%d" % i for i in range(10) if i % 2 == 0]
    h.expect("(f) datagrams sent in the file (every 2nd dropped)", to_echo, want)
    h.expect("(f) echoes in the file", back, want)


LIVE_CLIENT = r"""
import os, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"live bytes " * 10)
deadline = time.monotonic() + 20
while not os.path.exists(sys.argv[2]) and time.monotonic() < deadline:
    time.sleep(0.05)
s.close()
"""


def live(tmp):
    pcap = os.path.join(tmp, "h.pcap")
    release = os.path.join(tmp, "h.release")
    name = h.new_segment_name()
    h.on_cleanup(lambda: h.remove_segment(name))
    with h.TcpServer() as srv:
        proc = subprocess.Popen([h.SOCKSHIM, "run", "--name", name, "--pcap", pcap, "--", h.PYTHON, "-I", "-c",
                                 LIVE_CLIENT, str(srv.port), release],
                                env=h.clean_env({"SOCKSHIM_LIB": h.LIBSOCKSHIM}), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            payload, deadline = b"", time.monotonic() + 15
            while payload != b"live bytes " * 10 and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.1)
                if os.path.exists(pcap):
                    rows = fields(pcap, "tcp.len > 0", "tcp.payload")
                    payload = b"".join(bytes.fromhex(x[0].replace(":", "")) for x in rows)
            h.expect("(h) the run still going while tshark read the file", proc.poll(), None)
            h.expect("(h) bytes read from the file during the run", payload, b"live bytes " * 10)
        finally:
            open(release, "w").close()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
    h.expect("(h) run exit", proc.returncode, 0)


def parallel(tmp, curl, srv):
    traces = [os.path.join(tmp, f"k{i}.trace") for i in range(4)]
    script = " ".join(
        f"{curl} -sS --noproxy '*' --max-time 20 --trace {t} -o /dev/null '{srv.url(f'/data.bin?{i}')}' &"
        for i, t in enumerate(traces)) + " wait"
    r, pcap = run_pcap(tmp, "k", ["/bin/sh", "-c", script])
    if not h.expect("(k) shell exit", r.rc, 0):
        r.show()
        return
    h.expect("(k) malformed or error packets", malformed(pcap), [])
    want = {}
    for t in traces:
        sent, got = curl_trace(t)
        want[sent] = got
    streams = sorted({int(x[0]) for x in fields(pcap, "tcp.len > 0", "tcp.stream")})
    h.expect("(k) TCP streams with data", len(streams), 4)
    matched = 0
    for st in streams:
        a, b, _ = follow(pcap, st)
        if h.check(a in want, f"(k) stream {st}: a request no curl sent ({a[:40]!r})"):
            matched += h.check(b == want[a], f"(k) stream {st}: response bytes differ from its curl's ({len(b)} bytes)")
    h.expect("(k) streams equal to their curl's bytes", matched, 4)


# (m): one connection per case, each with its own first bytes; the test makes the same bytes.
NUMBERS_CLIENT = r"""
import os, socket, sys
port = int(sys.argv[1])
def conn():
    return socket.create_connection(("127.0.0.1", port), timeout=10)
# dup: the socket's two numbers take turns
s = conn()
d = os.dup(s.fileno())
for i in range(6):
    os.write(s.fileno() if i % 2 == 0 else d, b"dup-%d:" % i + b"d" * (300 * i))
os.close(d)
s.close()
# fork: parent and child take turns, each waiting for the other's go
s = conn()
go_child, go_parent = os.pipe(), os.pipe()
pid = os.fork()
if pid == 0:
    for i in range(3):
        os.read(go_child[0], 1)
        s.sendall(b"child-%d:" % i + b"c" * (500 + i))
        os.write(go_parent[1], b"k")
    os._exit(0)
for i in range(3):
    s.sendall(b"fork-parent-%d:" % i + b"p" * (700 + i))
    os.write(go_child[1], b"k")
    os.read(go_parent[0], 1)
os.waitpid(pid, 0)
s.close()
# fork, the child last: the parent closes its copy first, the child sends after that and exits
# without closing it: the kernel's FIN comes at the child's exit, after its bytes
s = conn()
s.sendall(b"handoff-parent:" + b"h" * 400)
go = os.pipe()
pid = os.fork()
if pid == 0:
    os.read(go[0], 1)
    s.sendall(b"handoff-child:" + b"k" * 600)
    os._exit(0)
s.close()
os.write(go[1], b"k")
os.waitpid(pid, 0)
# close_range: the socket's only number closed by it (python's os.closerange calls libc's)
s = conn()
s.sendall(b"close-range:" + b"r" * 900)
fd = s.detach()
os.closerange(fd, fd + 1)
# dup2: another descriptor put on the socket's only number
s = conn()
s.sendall(b"dup2-over:" + b"o" * 1100)
null = os.open(os.devnull, os.O_RDONLY)
os.dup2(null, s.fileno())
os.close(null)
os.close(s.detach())
# the last connection: each one before must have its FIN before this one starts
s = conn()
s.sendall(b"end")
s.close()
"""


def numbers_expected():
    dup = b"".join(b"dup-%d:" % i + b"d" * (300 * i) for i in range(6))
    fork = b"".join(b"fork-parent-%d:" % i + b"p" * (700 + i) + b"child-%d:" % i + b"c" * (500 + i) for i in range(3))
    return {b"dup-": dup, b"fork-": fork, b"handoff-": b"handoff-parent:" + b"h" * 400 + b"handoff-child:" + b"k" * 600,
            b"close-range:": b"close-range:" + b"r" * 900,
            b"dup2-over:": b"dup2-over:" + b"o" * 1100, b"end": b"end"}


def numbers(tmp):
    with h.TcpServer() as srv:
        r, pcap = run_pcap(tmp, "m", [h.PYTHON, "-I", "-c", NUMBERS_CLIENT, str(srv.port)])
        srv.wait_connections(len(numbers_expected()))
    if not h.expect("(m) program exit", r.rc, 0):
        r.show()
        return
    want = numbers_expected()
    h.expect("(m) what the server received", sorted(srv.received), sorted(want.values()))
    h.expect("(m) malformed or error packets", malformed(pcap), [])
    streams = sorted({int(x[0]) for x in fields(pcap, "tcp.len > 0", "tcp.stream")})
    h.expect("(m) TCP streams with data", len(streams), len(want))
    fins = fields(pcap, "tcp.flags.fin == 1", "tcp.stream", "tcp.dstport", "tcp.seq", "frame.time_epoch")
    syns = sorted((float(t), int(st)) for st, t in fields(pcap, "tcp.flags.syn == 1 && tcp.flags.ack == 0",
                                                          "tcp.stream", "frame.time_epoch"))
    # The FIN went out when the socket's last reference went, before the program's next
    # connection: a FIN written only at the end of the run (a close nobody saw) comes after.
    fin_at = {int(st): float(t) for st, _, _, t in fins}
    for (_, st), (t_next, _) in zip(syns, syns[1:]):
        h.check(fin_at.get(st, t_next) < t_next, f"(m) stream {st}: its FIN is not before the next connection")
    for st in streams:
        a, b, _ = follow(pcap, st)
        tag = next((t for t in want if a.startswith(t)), None)
        if not h.check(tag is not None, f"(m) stream {st}: bytes no case sent ({a[:30]!r})"):
            continue
        h.expect(f"(m) {tag.decode()} stream length", len(a), len(want[tag]))
        h.check(a == want[tag], f"(m) {tag.decode()} stream: bytes differ from what the program sent")
        h.expect(f"(m) {tag.decode()} bytes from the server", b, b"")
        # One FIN, the program's, after all its bytes (relative sequence number: 1 + the bytes).
        h.expect(f"(m) {tag.decode()} FIN segments (to port, relative seq)",
                 [(int(p), int(q)) for s_, p, q, _ in fins if int(s_) == st], [(srv.port, len(want[tag]) + 1)])


def seccomp_refused(tmp):
    r = h.run_plain([h.SOCKSHIM, "run", "--intercept", "seccomp", "--pcap", os.path.join(tmp, "j.pcap"), "--",
                     "/bin/true"], env=h.clean_env({"SOCKSHIM_LIB": h.LIBSOCKSHIM}))
    h.expect("(j) exit with --pcap in seccomp mode", r.rc, 2)
    h.check("--pcap: capture works in preload mode only" in r.stderr, f"(j) message: {r.stderr!r}")
    h.expect("(j) no file written", os.path.exists(os.path.join(tmp, "j.pcap")), False)
    name = h.new_segment_name()
    r = h.run_plain([h.SOCKSHIM, "run", "--name", name, "--pcap", os.path.join(tmp, "no", "such", "dir.pcap"), "--",
                     "/bin/true"], env=h.clean_env({"SOCKSHIM_LIB": h.LIBSOCKSHIM}))
    h.expect("(j) exit with an unwritable --pcap file", r.rc, 2)
    h.check("--pcap: cannot write" in r.stderr, f"(j) message: {r.stderr!r}")
    h.expect("(j) ring left behind", os.path.exists(f"/dev/shm/sockshim-capture-{name}"), False)
    h.expect("(j) segment left behind", os.path.exists(h.segment_path(name)), False)
    r = h.run_plain([h.SOCKSHIM, "run", "--pcap-slots", "1000", "--pcap", os.path.join(tmp, "j2.pcap"), "--",
                     "/bin/true"], env=h.clean_env({"SOCKSHIM_LIB": h.LIBSOCKSHIM}))
    h.expect("(j) exit with --pcap-slots 1000", r.rc, 2)
    h.check("must be a power of two" in r.stderr, f"(j) message: {r.stderr!r}")


def redis(tmp):
    server = h.need_program("redis-server", "redis-server")
    bench = h.need_program("redis-benchmark", "redis-tools")
    port = h.free_port()
    n, size = 300, 8
    driver = [h.PYTHON, os.path.join(h.PROGS, "capture_driver.py"), str(port), "15", "--",
              server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
              "--dir", tmp, "--",
              bench, "-h", "127.0.0.1", "-p", str(port), "-n", str(n), "-c", "2", "-d", str(size), "-t", "set", "-q"]
    r, pcap = run_pcap(tmp, "g", driver, timeout=60)
    if not h.expect("(g) redis-benchmark exit", r.rc, 0):
        r.show()
        return
    h.expect("(g) malformed or error packets", malformed(pcap), [])
    # redis-benchmark fills the value with one random string per run: taken from the first SET.
    head = b"*3\r\n$3\r\nSET\r\n$16\r\nkey:__rand_int__\r\n$%d\r\n" % size
    sets, oks, value = 0, 0, None
    for s in sorted({int(x[0]) for x in fields(pcap, "tcp.len > 0", "tcp.stream")}):
        a, b, _ = follow(pcap, s)
        if not a.startswith(head):
            continue
        value = value or a[len(head):len(head) + size]
        cmd = head + value + b"\r\n"
        count = len(a) // len(cmd)
        h.check(a == cmd * count, f"(g) stream {s}: {len(a)} bytes that are not whole SET commands")
        h.check(b == b"+OK\r\n" * count, f"(g) stream {s}: replies are not one +OK per SET ({len(b)} bytes)")
        sets += count
        oks += b.count(b"+OK\r\n")
    h.expect("(g) SET commands in the file", sets, n)
    h.expect("(g) +OK replies in the file", oks, n)


def body(tmp):
    global TSHARK
    TSHARK = h.need_program("tshark", "tshark")
    curl = h.need_program("curl", "curl")
    www = os.path.join(tmp, "www")
    os.mkdir(www)
    malformed_check_works(tmp)
    payload = os.urandom(300 * 1024)
    with open(os.path.join(www, "data.bin"), "wb") as f:
        f.write(payload)
    with h.HttpServer(www) as srv:
        curl_alone(tmp, curl, srv, payload)
        reset_rule(tmp, curl, srv)
        short_rule(tmp, curl, srv, payload)
        corrupt_rule(tmp, curl, srv)
        parallel(tmp, curl, srv)
    both_ends(tmp, curl, www)
    both_ends(tmp, curl, www, "(i)", "::1")
    udp_drop(tmp)
    udp_duplicate(tmp)
    udp_large(tmp)
    live(tmp)
    numbers(tmp)
    seccomp_refused(tmp)
    sendfile(tmp, payload)
    redis(tmp)


h.main("capture", body)
