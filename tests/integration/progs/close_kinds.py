"""close_kinds.py: sockets closed by other calls than close, and copies of sockets, as C programs
make them (issue 16: seccomp mode's `closed` counts and leak lists must be the preload object's).

- close_range over a TCP client, the socket accepted for it and a UDP socket: all three closed;
- dup2 of a file over a TCP client: that socket closed;
- dup3 (os.dup2 with inheritable=False) of a client onto another number, then close of the
  original: not the last number, nothing closed; the copy stays open and is leaked at exit;
- dup (libc's) of an accepted socket, and os.dup (fcntl(F_DUPFD_CLOEXEC, 0)) of another, the
  originals closed: the copies are leaked;
- dup2 of one accepted socket over another: the one replaced is closed; the copy's number then
  closed too: its socket is closed once both numbers are gone;
- the listener is left open (leaked).
Prints what it did; sockets are detached, so CPython's finalization closes none of them."""
import ctypes
import os
import socket

libc = ctypes.CDLL(None, use_errno=True)
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(8)


def pair():
    c = socket.socket()
    c.connect(srv.getsockname())
    a, _ = srv.accept()
    return c.detach(), a.detach()


def spare():
    return os.open(os.devnull, os.O_RDONLY)


# close_range over three sockets whose numbers follow each other.
c1, a1 = pair()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM).detach()
lo, hi = min(c1, a1, u), max(c1, a1, u)
print("close_range", hi - lo, libc.close_range(lo, hi, 0))
# A file put over a socket's number.
c2, a2 = pair()
null = spare()
os.dup2(null, c2)
os.close(null)
os.close(c2)
os.close(a2)
print("dup2 over a socket")
# A copy with dup3, the original closed: the copy is open at exit.
c3, a3 = pair()
copy3 = spare()
os.dup2(c3, copy3, inheritable=False)
os.close(c3)
os.close(a3)
print("dup3 copy kept")
# A copy with dup, the original closed: the copy is open at exit.
c4, a4 = pair()
copy4 = libc.dup(a4)
os.close(a4)
os.close(c4)
c7, a7 = pair()
copy7 = os.dup(a7)
os.close(a7)
os.close(c7)
print("dup copies kept")
# One accepted socket over another, then both numbers closed.
c5, a5 = pair()
c6, a6 = pair()
os.dup2(a6, a5)
os.close(a6)
os.close(a5)
os.close(c5)
os.close(c6)
print("dup2 socket over socket")
srv.detach()
