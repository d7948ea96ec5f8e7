"""Issue 16: dynamically linked programs give the same counts in seccomp mode as with the
preload object (opened, connected, connect_pending, connect_failed, listened, accepted, closed,
open_failed, faults_injected, and the send calls and bytes and received bytes of inet sockets;
with short sends and receives, the receive calls too).

curl and a python3 urllib client fetch a page from python3 -m http.server on 127.0.0.1, and one
curl is refused by a rule, and python and curl run again under `short` rules on send and
recv (one byte a receive, ten a send: both loop, so the output is the same); progs/mmsg_pair.py
makes sendmmsg and recvmmsg calls, plainly, with the second batch failed and with the first
dropped; progs/big_send.py makes one blocking send of 8 MiB to a slow reader (all of it moves
in the one call); progs/socket_calls.py makes socketpair, bind, setsockopt, getsockopt
and shutdown calls under rules on each of them (some fire, some only count hits);
progs/close_kinds.py closes sockets with close_range and dup2 and keeps copies made with dup and
dup3; progs/exec_kinds.py execs (a failed execve first) with FD_CLOEXEC and inherited sockets,
and its new image forks a child that execs /bin/true: for these two the process records
(program, state, exit status, leaked sockets) must be the same too, as for
progs/quiet_child.py's child that makes no socket call. progs/ancillary_oob.py sends
on unix sockets, passes a descriptor with SCM_RIGHTS and sends TCP out-of-band data: there the
transfer counters of unix sockets are compared too. progs/sendfile_client.py sends a 300 KiB
file with socket.sendfile() (sendfile(2) with an offset, one blocking call) to a loopback
receiver, plainly (all of it in send_bytes) and under a send `fail` rule on the receiver's port
(socket.sendfile raises ENOBUFS: its sendfile fails, then its fallback send). Each runs once
with --intercept preload and once with --intercept seccomp: every kind of socket must have the
same counters, every rule the same hits and fires, and the program the same output (curl's
unix sockets aside: libc's own nscd lookups, which only seccomp mode sees). Every process record
names the mode it ran in ("intercept" in --json-out, the --summary text), and so does the JUnit
report (property sockshim.intercept).
Skipped (77) without curl or seccomp user notification.
"""
import os
import sys
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

COUNTERS = ("opened", "connected", "connect_pending", "connect_failed", "listened", "accepted", "closed",
            "open_failed", "listen_failed", "accept_failed", "close_failed", "faults_injected")

# A rule on each call type the second slice intercepts: the ones that fire answer without the
# call running (a hang after its time); "seen" ones never fire (after 1000) and only count hits.
SOCKET_CALL_RULES = {"rules": [
    {"name": "not-this-program", "on": ["socket", "getsockopt"], "match": {"argv0": "curl"}, "do": {"fail": "EPERM"}},
    {"name": "no-dgram-pair", "on": ["socket"], "match": {"family": "unix", "type": "dgram", "argv0": "python3*"},
     "do": {"fail": "EMFILE"}},
    {"name": "no-reuse", "on": ["setsockopt"], "match": {"option": "SO_REUSEADDR"}, "do": {"fail": "ENOPROTOOPT"}},
    {"name": "no-so-type", "on": ["getsockopt"], "match": {"level": "SOL_SOCKET", "option": "SO_TYPE"},
     "do": {"fail": "EBADF"}},
    {"name": "hang-nodelay", "on": ["setsockopt"], "match": {"option": "TCP_NODELAY"}, "do": {"hang_ms": 200}},
    {"name": "keepalive-once-per-socket", "on": ["setsockopt"], "match": {"option": "SO_KEEPALIVE"},
     "when": {"count": "socket", "times": 1}, "do": {"fail": "ENOBUFS"}},
    {"name": "rcvbuf-on-loopback", "on": ["getsockopt"], "match": {"option": "SO_RCVBUF", "local": "127.0.0.0/8"},
     "do": {"fail": "EPERM"}},
    {"name": "options-seen", "on": ["setsockopt", "getsockopt"], "when": {"after": 1000}, "do": {"fail": "EINVAL"}},
    {"name": "second-unix-connect", "on": ["connect"], "match": {"path": "@sockshim-calls-*"}, "when": {"nth": 2},
     "do": {"fail": "ECONNREFUSED"}},
    {"name": "client-closes-seen", "on": ["close"], "match": {"peer": "127.0.0.1/32", "role": "client"},
     "when": {"after": 1000}, "do": {"fail": "EIO"}},
    {"name": "second-bind", "on": ["bind"], "when": {"after": 1, "times": 1}, "do": {"fail": "EACCES"}},
    {"name": "server-shutdown", "on": ["shutdown"], "match": {"role": "server"}, "when": {"times": 1},
     "do": {"fail": "EIO"}},
    {"name": "second-client-shutdown", "on": ["shutdown"], "match": {"protocol": "tcp", "role": "client"},
     "when": {"after": 1}, "do": {"hang_ms": 100, "fail": "EPIPE"}},
    {"name": "shutdown-seen", "on": ["shutdown"], "when": {"after": 1000}, "do": {"fail": "EINVAL"}},
    # A socket's own port once it bound, listened or was accepted (a client's ephemeral one is
    # no fact): the listeners' and accepted sockets' closes.
    {"name": "own-port-closes-seen", "on": ["close"], "match": {"local_port": "1024-65535"}, "when": {"after": 1000},
     "do": {"fail": "EIO"}},
]}


# Sends and receives: the calls and bytes of inet sockets (unix sends to receivers outside the
# run are left to the kernel in seccomp mode, docs/shim.md; libc's nscd lookups are such). How many receives a response takes depends on how its segments
# arrive, so recv_calls is compared only where a rule fixes it (short: 1).
TRANSFER_COUNTERS = ("send_calls", "send_bytes", "recv_bytes")


SHORT_RULES = {"rules": [
    {"name": "one-byte-recv", "on": ["recv"], "match": {"protocol": "tcp"}, "do": {"short": 1}},
    {"name": "ten-byte-send", "on": ["send"], "match": {"protocol": "tcp"}, "do": {"short": 10}},
]}


MMSG_FAIL = {"rules": [{"name": "second-batch-fails", "on": ["send"], "match": {"type": "dgram"},
                        "when": {"after": 1, "times": 1}, "do": {"fail": "ENOBUFS"}}]}
MMSG_DROP = {"rules": [{"name": "first-batch-dropped", "on": ["send"], "match": {"type": "dgram"},
                        "when": {"times": 1}, "do": {"drop": True}}]}

SENDFILE_SIZE = 300 * 1024


def sendfile_refused(port):
    return {"rules": [{"name": "sendfile-refused", "on": ["send"], "match": {"port": port}, "do": {"fail": "ENOBUFS"}}]}


def counts(data, families, transfer_counters=TRANSFER_COUNTERS, unix_transfers=False):
    return {(s["family"], s["type"], s["protocol"]):
            {k: s.get(k) for k in COUNTERS + (transfer_counters if s["family"] != "unix" or unix_transfers else ())}
            for s in (data or {}).get("sockets", []) if s["family"] in families}


def process_records(data):
    """The process records as both modes must write them (sorted: a parent and its child race): program,
    state, exit status, and the leaked sockets by number and kind (seccomp mode knows only the
    ports of a leaked socket's addresses, so they are left out)."""
    return sorted((p.get("argv0"), p.get("state"), p.get("exit"), p.get("leaked_count"),
                   sorted((x.get("fd"), x.get("family"), x.get("type")) for x in p.get("leaked", [])))
                  for p in (data or {}).get("processes", []))


def rule_hits(data):
    return {r["name"]: (r.get("hits"), r.get("fired")) for r in (data or {}).get("rules", [])}


def body(tmp):
    curl = h.need_program("curl", "curl")
    h.need_seccomp()
    www = h.hello_site(tmp)
    sendfile_path = os.path.join(tmp, "sendfile.bin")
    with open(sendfile_path, "wb") as f:
        f.write(os.urandom(SENDFILE_SIZE))
    with h.HttpServer(www) as srv, h.TcpServer() as sink:
        refuse = h.refuse_tcp_port("refuse-http", srv.port)
        # curl's getaddrinfo asks nscd over unix sockets that libc makes itself: seccomp mode sees
        # those system calls, the preload object (which sees only the program's calls of libc's
        # functions) does not. Its unix sockets are left out of the comparison.
        inet = ("inet", "inet6")
        every = inet + ("unix",)
        cases = [
            ("curl", [curl, "-sS", "--noproxy", "*", "-o", "/dev/null", srv.url("/")], None, 0, inet),
            ("python urllib", [h.PYTHON, "-I", "-c",
                               f"import urllib.request as u; u.urlopen('{srv.url('/')}').read()"], None, 0, every),
            ("curl refused", [curl, "-sS", "--noproxy", "*", "-o", "/dev/null", srv.url("/")], refuse, 7, inet),
            ("python socket calls", h.python_prog("socket_calls.py"), SOCKET_CALL_RULES, 0, every),
            # Every receive moves one byte, every send at most ten: deterministic call counts.
            ("python urllib, short transfers", [h.PYTHON, "-I", "-c",
                                                f"import urllib.request as u; print(u.urlopen('{srv.url('/')}').read())"],
             SHORT_RULES, 0, inet),
            ("curl, short sends", [curl, "-sS", "--noproxy", "*", srv.url("/")], SHORT_RULES, 0, inet),
            ("python one big blocking send", h.python_prog("big_send.py"), None, 0, inet),
            ("python sendmmsg/recvmmsg", h.python_prog("mmsg_pair.py"), None, 0, inet),
            ("python sendmmsg failed", h.python_prog("mmsg_pair.py"), MMSG_FAIL, 0, inet),
            ("python sendmmsg dropped", h.python_prog("mmsg_pair.py"), MMSG_DROP, 0, inet),
            # sendfile(2) to a socket is a send: the file's bytes in send_bytes, send rules on it.
            ("python socket.sendfile", h.python_prog("sendfile_client.py", "127.0.0.1", sink.port, sendfile_path),
             None, 0, inet),
            ("python socket.sendfile refused", h.python_prog("sendfile_client.py", "127.0.0.1", sink.port, sendfile_path),
             sendfile_refused(sink.port), 0, inet),
        ]
        # Sockets closed by other calls than close, copies of sockets, execs, children: the same
        # counters, and the same process records with the same leaks.
        same_records = [
            ("python close_range and dups", h.python_prog("close_kinds.py"), None, 0, inet),
            ("python exec with CLOEXEC and inherited sockets", h.python_prog("exec_kinds.py"), None, 0, inet),
            ("python child without socket calls", h.python_prog("quiet_child.py"), None, 0, inet),
        ]
        # Unix sends, a descriptor passed with SCM_RIGHTS, MSG_OOB: every transfer counter of
        # every kind, unix ones too, with the receive calls (each receive here takes one message).
        every_transfer = [
            ("python unix sends, SCM_RIGHTS and MSG_OOB", h.python_prog("ancillary_oob.py"), None, 0, every),
        ]
        cases += every_transfer
        cases += same_records
        # SAME_STATS_ONLY=TEXT runs only the cases whose label has TEXT (while working on one).
        only = os.environ.get("SAME_STATS_ONLY")
        cases = [c for c in cases if not only or only in c[0]]
        for label, argv, rules, want_rc, families in cases:
            runs = {}
            for mode in ("preload", "seccomp"):
                junit = os.path.join(tmp, f"junit-{mode}.xml")
                r = h.run_shim(argv, rules=rules, options=["--intercept", mode, "--summary", "--junit", junit])
                h.expect(f"{label} ({mode}): exit", r.rc, want_rc)
                if h.check(r.data is not None, f"{label} ({mode}): no JSON document"):
                    h.expect(f"{label} ({mode}): intercept", r.data.get("intercept", {}).get("mode"), mode)
                    records = r.data.get("processes", [])
                    h.expect(f"{label} ({mode}): every process record's mode",
                             sorted({p.get("intercept") for p in records}), [mode])
                    h.expect(f"{label} ({mode}): the summary's process lines",
                             [line.endswith(f" intercept={mode}") for line in r.stderr.splitlines()
                              if line.startswith("\tpid=")], [True] * len(records))
                props = {p.get("name"): p.get("value") for p in ET.parse(junit).getroot().iter("property")}
                h.expect(f"{label} ({mode}): JUnit property sockshim.intercept", props.get("sockshim.intercept"), mode)
                runs[mode] = r
            h.expect(f"{label}: output, seccomp vs preload", runs["seccomp"].stdout, runs["preload"].stdout)
            if "big blocking send" in label:
                h.expect(f"{label}: output (seccomp)", runs["seccomp"].stdout, "one send moved 8388608\nreader 0\n")
            if "mmsg" in label:
                want = {"python sendmmsg/recvmmsg": ("sendmmsg 2: 3 [5, 7, 9]", "recvmmsg: 6 [5, 7, 9, 5, 7, 9] b'BBBB'"),
                        "python sendmmsg failed": ("sendmmsg 2: -1 No buffer space available", "recvmmsg: 3 [5, 7, 9] b'BBBB'"),
                        "python sendmmsg dropped": ("sendmmsg 2: 3 [5, 7, 9]", "recvmmsg: 3 [5, 7, 9] b'CCCC'")}[label]
                h.expect(f"{label}: output (seccomp)", runs["seccomp"].stdout.splitlines()[1:], list(want))
            if "sendfile" in label:
                want = "errno ENOBUFS\n" if rules else f"sent {SENDFILE_SIZE} at {SENDFILE_SIZE}\n"
                h.expect(f"{label}: output (seccomp)", runs["seccomp"].stdout, want)
                if runs["seccomp"].data:
                    tcp = h.sockets(runs["seccomp"].data, "inet", "stream", "tcp")
                    h.expect(f"{label}: send_bytes (seccomp)", (tcp or {}).get("send_bytes"), 0 if rules else SENDFILE_SIZE)
            if rules is SOCKET_CALL_RULES:   # "count": "socket": the first call on each socket fails
                h.expect(f"{label}: per-socket rule (seccomp)",
                         [x for x in runs["seccomp"].stdout.splitlines() if x.startswith("keepalive")],
                         ["keepalive 1 first ENOBUFS", "keepalive 1 again ok",
                          "keepalive 2 first ENOBUFS", "keepalive 2 again ok"])
            if all(r.data for r in runs.values()):
                unix = (label, argv, rules, want_rc, families) in every_transfer
                fixed = rules is SHORT_RULES or "mmsg" in label or unix   # one recvmmsg takes what is queued
                extra = TRANSFER_COUNTERS + (("recv_calls",) if fixed else ())
                h.expect(f"{label}: counters, seccomp vs preload", counts(runs["seccomp"].data, families, extra, unix),
                         counts(runs["preload"].data, families, extra, unix))
                tcp = [x for x in runs["seccomp"].data.get("sockets", []) if x.get("protocol") == "tcp"]
                moved = (want_rc == 0 and rules is not SOCKET_CALL_RULES and "mmsg" not in label   # a page was fetched
                         and "sendfile" not in label
                         and all(label != c[0] for c in same_records + every_transfer))
                h.check(not moved or bool(tcp) and all(x.get("send_bytes", 0) > 0 and x.get("recv_bytes", 0) > 0 for x in tcp),
                        f"{label}: seccomp mode counted TCP bytes both ways: got {tcp}")
                h.expect(f"{label}: rule hits and fires, seccomp vs preload", rule_hits(runs["seccomp"].data),
                         rule_hits(runs["preload"].data))
                if (label, argv, rules, want_rc, families) in same_records:
                    h.expect(f"{label}: process records and leaks, seccomp vs preload", process_records(runs["seccomp"].data),
                             process_records(runs["preload"].data))


        # A receiver asking for the sender's credentials sees the program's pid: that send stays
        # the program's (uncounted in seccomp mode, docs/shim.md).
        if not only or only in "passcred":
            r = h.run_shim(h.python_prog("passcred.py"), options=["--intercept", "seccomp"])
            h.expect("SO_PASSCRED receiver (seccomp): output", r.stdout, "passcred b'who' True\n")


h.main("seccomp_same_stats", body)
