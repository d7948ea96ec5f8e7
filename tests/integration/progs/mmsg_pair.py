"""mmsg_pair.py: libc's sendmmsg and recvmmsg (through ctypes: Python's socket module has
neither) on two UDP sockets on 127.0.0.1. Two sendmmsg calls of three messages each (5, 7 and 9
bytes), then one recvmmsg for up to 8 messages; prints what each call returned and the lengths
of the messages, so a test can compare the output and the counters of two runs.
"""
import ctypes
import os
import select
import socket

# The global namespace (dlsym(RTLD_DEFAULT)), so a preloaded sendmmsg is the one called, as a C
# program calling it would; a handle on libc itself would skip the preload object.
libc = ctypes.CDLL(None, use_errno=True)


class Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class Msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32), ("iov", ctypes.POINTER(Iovec)),
                ("iovlen", ctypes.c_size_t), ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


class Mmsghdr(ctypes.Structure):
    _fields_ = [("hdr", Msghdr), ("len", ctypes.c_uint)]


def vector(buffers):
    msgs = (Mmsghdr * len(buffers))()
    keep = []
    for i, b in enumerate(buffers):
        iov = Iovec(ctypes.cast(b, ctypes.c_void_p), len(b))
        keep.append(iov)
        msgs[i].hdr.iov = ctypes.pointer(iov)
        msgs[i].hdr.iovlen = 1
    return msgs, keep


rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.bind(("127.0.0.1", 0))
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
tx.connect(rx.getsockname())
for round_ in (1, 2):
    out = [ctypes.create_string_buffer(bytes([65 + round_]) * n, n) for n in (5, 7, 9)]
    msgs, keep = vector(out)
    r = libc.sendmmsg(tx.fileno(), msgs, 3, 0)
    err = ctypes.get_errno()
    print(f"sendmmsg {round_}: {r}" + (f" {os.strerror(err)}" if r < 0 else f" {[m.len for m in msgs]}"))
select.select([rx], [], [], 5)
inbox = [ctypes.create_string_buffer(64) for _ in range(8)]
msgs, keep = vector(inbox)
r = libc.recvmmsg(rx.fileno(), msgs, 8, socket.MSG_DONTWAIT, None)
got = [inbox[i].raw[:msgs[i].len] for i in range(max(r, 0))]
print(f"recvmmsg: {r} {[len(g) for g in got]} {b''.join(got)[:4]!r}")
