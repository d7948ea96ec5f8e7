"""A UDP program that attaches socket filters of its own, for test_own_filter*.py: run under an
inbound_loss rule on `bind`, it sends datagrams to itself in phases and counts, by first payload
byte, what arrives. Prints one JSON line with every phase's counts and every answer it got.

Usage: own_filter.py cbpf|ebpf N
  cbpf: its own classic filter (keep datagrams starting with 'A') on an armed socket: composed,
        read back (SO_GET_FILTER), detached, detached again, locked; then one too long to compose
        on a second armed socket; then one attached before the bind that arms a third; then a TCP
        listener with its own filter and the connection it accepts.
  ebpf: an eBPF program (keep everything) with SO_ATTACH_BPF on an armed socket, then on a
        socket before its bind; {"ebpf": "..."} instead when bpf(2) cannot load one here.
"""
import ctypes
import errno
import json
import socket
import struct
import sys
import time

SO_ATTACH_FILTER = SO_GET_FILTER = 26   # <asm-generic/socket.h>
SO_DETACH_FILTER = 27
SO_LOCK_FILTER = 44
SO_ATTACH_BPF = 50
SO_RCVBUFFORCE = 33

libc = ctypes.CDLL(None, use_errno=True)   # the preloaded getsockopt/setsockopt come first
mode, n = sys.argv[1], int(sys.argv[2])
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)


def receiver(before_bind=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # Room for a whole phase, so only filters drop datagrams (root in CI; rmem_max otherwise).
    try:
        s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 << 20)
    except PermissionError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
    if before_bind:
        before_bind(s)
    s.bind(("127.0.0.1", 0))   # the rule arms the socket here
    return s


def phase(s):
    """n datagrams starting with 'A' and n with 'B'; what arrives, by first byte."""
    addr = s.getsockname()
    for i in range(n):
        tx.sendto(b"A" + struct.pack("!I", i) + b"." * 27, addr)
        tx.sendto(b"B" + struct.pack("!I", i) + b"." * 27, addr)
        if i % 50 == 49:
            time.sleep(0.001)
    got = {"A": 0, "B": 0}
    s.settimeout(0.3)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            data = s.recv(2048)
        except socket.timeout:
            break
        key = chr(data[0])
        got[key] = got.get(key, 0) + 1
    return got


def fprog(insns):
    """A struct sock_fprog for insns [(code, jt, jf, k)], and the buffer it points to."""
    code = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *i) for i in insns))
    return struct.pack("HxxxxxxP", len(insns), ctypes.addressof(code)), code


def call(fn, *args):
    """A libc call through ctypes: 0, or the errno name it failed with."""
    ctypes.set_errno(0)
    rc = fn(*args)
    return 0 if rc == 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))


def attach(s, insns, option=SO_ATTACH_FILTER):
    prog, keep = fprog(insns)
    buf = ctypes.create_string_buffer(prog, len(prog))
    result = call(libc.setsockopt, s.fileno(), socket.SOL_SOCKET, option, buf, len(prog))
    del keep
    return result


def get_filter(s, room):
    """SO_GET_FILTER with room for `room` instructions (0: the length only): (answer, length, insns)."""
    buf = ctypes.create_string_buffer(max(room, 1) * 8)
    length = ctypes.c_uint32(room)
    answer = call(libc.getsockopt, s.fileno(), socket.SOL_SOCKET, SO_GET_FILTER, buf, ctypes.byref(length))
    insns = [list(struct.unpack_from("HBBI", buf.raw, 8 * i)) for i in range(min(length.value, room))]
    return answer, length.value, insns


# A UDP socket filter sees the UDP header first: byte 8 is the payload's first.
FIRST_BYTE_A = [(0x30, 0, 0, 8), (0x15, 0, 1, ord("A")), (0x06, 0, 0, 0xFFFFFFFF), (0x06, 0, 0, 0)]


def cbpf():
    out = {}
    s = receiver()
    out["before"] = get_filter(s, 0)[:2]
    out["rule_only"] = phase(s)
    out["attach"] = attach(s, FIRST_BYTE_A)
    out["get_len"] = get_filter(s, 0)[:2]
    out["get_short"] = get_filter(s, 2)[0]
    out["get"] = get_filter(s, 16)
    out["both"] = phase(s)
    out["detach"] = call(libc.setsockopt, s.fileno(), socket.SOL_SOCKET, SO_DETACH_FILTER, None, 0)
    out["after_detach"] = get_filter(s, 16)[:2]
    out["detached"] = phase(s)
    out["detach_again"] = call(libc.setsockopt, s.fileno(), socket.SOL_SOCKET, SO_DETACH_FILTER, None, 0)
    # Locked: the kernel refuses every change, the composition stays and still reads back.
    out["attach_again"] = attach(s, FIRST_BYTE_A)
    one = ctypes.c_int(1)
    out["lock"] = call(libc.setsockopt, s.fileno(), socket.SOL_SOCKET, SO_LOCK_FILTER, ctypes.byref(one), 4)
    out["attach_locked"] = attach(s, [(0x06, 0, 0, 0)])
    out["detach_locked"] = call(libc.setsockopt, s.fileno(), socket.SOL_SOCKET, SO_DETACH_FILTER, None, 0)
    out["get_locked"] = get_filter(s, 16)
    out["locked"] = phase(s)
    s.close()
    # 4 093 instructions: fine alone, too long behind the rule's (4 + 2 more): the program's own
    # replaces the rule's, which is lifted from the socket.
    s = receiver()
    long_filter = [(0x00, 0, 0, 0)] * 4089 + FIRST_BYTE_A
    out["attach_long"] = attach(s, long_filter)
    out["get_long"] = get_filter(s, 0)[:2]
    out["long"] = phase(s)
    s.close()
    # Attached before the bind that arms the socket: the rule composes itself in front of it.
    s = receiver(lambda s: out.update(attach_early=attach(s, FIRST_BYTE_A)))
    out["get_early"] = get_filter(s, 16)
    out["early"] = phase(s)
    s.close()
    out.update(tcp())
    return out


def tcp():
    """A TCP listener the rule armed, with the program's own filter: the connection accept()
    returns carries both (the kernel copies the listener's filter), and the shim answers for it
    as for the listener."""
    out = {}
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("127.0.0.1", 0))
    keep_all = [(0x06, 0, 0, 0xFFFFFFFF)]
    out["tcp_attach"] = attach(ls, keep_all)
    ls.listen(1)
    c = socket.create_connection(ls.getsockname(), timeout=10)
    a, _ = ls.accept()
    out["tcp_get_accepted"] = get_filter(a, 4)
    c.sendall(b"through both filters")
    a.settimeout(10)
    out["tcp_received"] = a.recv(64).decode()
    out["tcp_detach_accepted"] = call(libc.setsockopt, a.fileno(), socket.SOL_SOCKET, SO_DETACH_FILTER, None, 0)
    out["tcp_get_after_detach"] = get_filter(a, 4)[:2]
    out["tcp_get_listener"] = get_filter(ls, 4)
    for s in (a, c, ls):
        s.close()
    return out


def load_ebpf():
    """An eBPF socket filter returning -1 (keep whole), loaded with bpf(2); its fd or an error."""
    insns = struct.pack("<BBhi", 0xB7, 0, 0, -1) + struct.pack("<BBhi", 0x95, 0, 0, 0)   # r0 = -1; exit
    code = ctypes.create_string_buffer(insns, len(insns))
    license_ = ctypes.create_string_buffer(b"GPL")
    # union bpf_attr for BPF_PROG_LOAD: prog_type, insn_cnt, insns, license; the rest zero.
    attr = ctypes.create_string_buffer(struct.pack("=IIQQ", 1, 2, ctypes.addressof(code),
                                                   ctypes.addressof(license_)), 128)
    libc.syscall.restype = ctypes.c_long
    ctypes.set_errno(0)
    fd = libc.syscall(321, 5, attr, 128)   # __NR_bpf, BPF_PROG_LOAD
    if fd < 0:
        return None, errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
    return fd, None


def ebpf():
    fd, why = load_ebpf()
    if fd is None:
        return {"ebpf": f"bpf(BPF_PROG_LOAD) failed: {why}"}
    out = {}
    s = receiver()
    out["rule_only"] = phase(s)
    prog_fd = ctypes.c_int(fd)
    out["attach_bpf"] = call(libc.setsockopt, s.fileno(), socket.SOL_SOCKET, SO_ATTACH_BPF,
                             ctypes.byref(prog_fd), 4)
    out["get"] = get_filter(s, 0)[:2]
    out["bpf"] = phase(s)
    s.close()
    # Attached before the rule would arm the socket (at bind): the rule leaves it alone.
    s = receiver(lambda s: out.update(attach_bpf_early=call(libc.setsockopt, s.fileno(), socket.SOL_SOCKET,
                                                            SO_ATTACH_BPF, ctypes.byref(prog_fd), 4)))
    out["bpf_early"] = phase(s)
    s.close()
    return out


print(json.dumps(cbpf() if mode == "cbpf" else ebpf()))
