"""A socket that a rule armed (inbound_loss) or paced (rate), kept across execve: the program
execs itself with the socket's number, and the new image, under the shim again, uses it. For
test_packet_rules_exec.py.

Usage:
  exec_armed.py udp N        binds a UDP socket (an inbound_loss rule on bind arms it), execs
                             `after-udp FD N`, which, in phases, sends N datagrams starting with
                             'A' and N with 'B' to it and counts, by first byte, what arrives: with
                             the rule's filter alone; with its own filter (keep 'A') attached;
                             after detaching its own. Prints one JSON line with every phase's
                             counts and SO_GET_FILTER's answers.
  exec_armed.py tcp PORT_FILE  listens on 127.0.0.1:0, publishes the port, accepts one connection
                             (a rate rule on accept paces it) and execs `after-tcp FD`, which reads
                             it to EOF, answers as tcp_sink.py does and prints one JSON line:
                             {"bytes": N, "sha256": HEX, "seconds": S}, S from its start to EOF.
"""
import ctypes
import errno
import hashlib
import json
import os
import socket
import struct
import sys
import time

SO_ATTACH_FILTER = SO_GET_FILTER = 26   # <asm-generic/socket.h>
SO_DETACH_FILTER = 27
SO_RCVBUFFORCE = 33
# A UDP socket filter sees the UDP header first: byte 8 is the payload's first.
FIRST_BYTE_A = [(0x30, 0, 0, 8), (0x15, 0, 1, ord("A")), (0x06, 0, 0, 0xFFFFFFFF), (0x06, 0, 0, 0)]
libc = ctypes.CDLL(None, use_errno=True)   # the preloaded getsockopt/setsockopt come first


def call(fn, *args):
    """A libc call through ctypes: 0, or the errno name it failed with."""
    ctypes.set_errno(0)
    rc = fn(*args)
    return 0 if rc == 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))


def attach(s, insns):
    code = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *i) for i in insns))
    prog = struct.pack("HxxxxxxP", len(insns), ctypes.addressof(code))
    buf = ctypes.create_string_buffer(prog, len(prog))
    return call(libc.setsockopt, s.fileno(), socket.SOL_SOCKET, SO_ATTACH_FILTER, buf, len(prog))


def filter_length(s):
    """SO_GET_FILTER with no room: (answer, the length in instructions)."""
    buf = ctypes.create_string_buffer(8)
    length = ctypes.c_uint32(0)
    answer = call(libc.getsockopt, s.fileno(), socket.SOL_SOCKET, SO_GET_FILTER, buf, ctypes.byref(length))
    return [answer, length.value]


def phase(s, n):
    """n datagrams starting with 'A' and n with 'B' to s; what arrives, by first byte."""
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    addr = s.getsockname()
    for i in range(n):
        tx.sendto(b"A" + struct.pack("!I", i) + b"." * 27, addr)
        tx.sendto(b"B" + struct.pack("!I", i) + b"." * 27, addr)
    tx.close()
    got = {"A": 0, "B": 0}
    s.settimeout(0.3)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            data = s.recv(2048)
        except socket.timeout:
            break
        got[chr(data[0])] = got.get(chr(data[0]), 0) + 1
    return got


def exec_self(mode, fd, *args):
    os.set_inheritable(fd, True)
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-I", os.path.abspath(__file__), mode, str(fd)] + [str(a) for a in args])


mode = sys.argv[1]
if mode == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:   # room for a whole phase, so only filters drop datagrams (root in CI; rmem_max otherwise)
        s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 4 << 20)
    except PermissionError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("127.0.0.1", 0))   # the rule arms the socket here
    exec_self("after-udp", s.detach(), sys.argv[2])
elif mode == "after-udp":
    s = socket.socket(fileno=int(sys.argv[2]))
    n = int(sys.argv[3])
    out = {"before": filter_length(s), "rule_only": phase(s, n), "attach": attach(s, FIRST_BYTE_A)}
    out["get_len"] = filter_length(s)
    out["both"] = phase(s, n)
    out["detach"] = call(libc.setsockopt, s.fileno(), socket.SOL_SOCKET, SO_DETACH_FILTER, None, 0)
    out["after_detach"] = filter_length(s)
    out["detached"] = phase(s, n)
    print(json.dumps(out))
elif mode == "tcp":
    port_file = sys.argv[2]
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(ls.getsockname()[1]))
    os.rename(port_file + ".tmp", port_file)
    ls.settimeout(30)
    c, _ = ls.accept()   # the rule paces it here
    ls.close()
    exec_self("after-tcp", c.detach())
elif mode == "after-tcp":
    start = time.monotonic()
    c = socket.socket(fileno=int(sys.argv[2]))
    c.settimeout(60)
    h, n = hashlib.sha256(), 0
    while True:
        chunk = c.recv(1 << 16)
        if not chunk:
            break
        h.update(chunk)
        n += len(chunk)
    seconds = time.monotonic() - start
    c.sendall(f"{n} {h.hexdigest()}\n".encode())
    c.close()
    print(json.dumps({"bytes": n, "sha256": h.hexdigest(), "seconds": seconds}))
else:
    sys.exit(f"unknown mode {mode}")
