"""Calls one of libc's _chk receive functions on a socket, through ctypes (the preload object's
symbol when the shim is loaded): `chk_probe.py NAME N BUFLEN`. Prints the bytes received; with
N > BUFLEN libc's size check must end the program with SIGABRT, as it does without the shim."""
import ctypes
import os
import socket
import sys

name, n, buflen = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
a, b = socket.socketpair()
b.send(b"0123456789abcdef")
libc = ctypes.CDLL(None, use_errno=True)
buf = ctypes.create_string_buffer(32)
fd = a.fileno()
if name == "__recv_chk":
    r = libc.__recv_chk(fd, buf, ctypes.c_size_t(n), ctypes.c_size_t(buflen), 0)
elif name == "__recvfrom_chk":
    r = libc.__recvfrom_chk(fd, buf, ctypes.c_size_t(n), ctypes.c_size_t(buflen), 0, None, None)
else:
    r = libc.__read_chk(fd, buf, ctypes.c_size_t(n), ctypes.c_size_t(buflen))
os.write(1, b"%d %s\n" % (r, buf.raw[:max(r, 0)]))
