"""Makes each of the socket calls seccomp mode's second slice intercepts, on sockets it made
itself over loopback, and prints what each call returned (an errno name when it failed), so two
runs of it can be compared line by line: socketpair (a stream pair that carries a byte, a datagram
pair), setsockopt and getsockopt, bind, listen, connect (inet and unix), accept, shutdown, close.
"""
import errno
import os
import socket


def attempt(label, fn):
    try:
        got = fn()
        print(label, "ok" if got is None or isinstance(got, (socket.socket, tuple)) else got)
    except OSError as e:
        print(label, errno.errorcode.get(e.errno, e.errno))


a, b = socket.socketpair()
a.sendall(b"x")
print("socketpair carries", b.recv(1))
a.close()
b.close()


def dgram_pair():
    for s in socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM):
        s.close()


attempt("socketpair dgram", dgram_pair)

# Two sockets, each setting SO_KEEPALIVE twice: a rule counting per socket acts on each one.
for i in (1, 2):
    k = socket.socket()
    attempt(f"keepalive {i} first", lambda: k.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1))
    attempt(f"keepalive {i} again", lambda: k.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1))
    k.close()

srv = socket.socket()
attempt("setsockopt SO_REUSEADDR", lambda: srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1))
attempt("bind", lambda: srv.bind(("127.0.0.1", 0)))
srv.listen(4)
port = srv.getsockname()[1]
other = socket.socket()
attempt("bind taken port", lambda: other.bind(("127.0.0.1", port)))
other.close()

c = socket.socket()
attempt("setsockopt TCP_NODELAY", lambda: c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1))
c.connect(("127.0.0.1", port))
x, _ = srv.accept()
attempt("getsockopt SO_ERROR", lambda: c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
attempt("getsockopt SO_TYPE", lambda: c.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE))
attempt("getsockopt SO_RCVBUF listener", lambda: srv.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) and None)
unbound = socket.socket()
attempt("getsockopt SO_RCVBUF unbound", lambda: unbound.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) and None)
unbound.close()
attempt("shutdown client", lambda: c.shutdown(socket.SHUT_WR))
print("server reads", x.recv(1))
attempt("shutdown server", lambda: x.shutdown(socket.SHUT_RDWR))
attempt("shutdown server again", lambda: x.shutdown(socket.SHUT_RDWR))

# A second connection, whose client's shutdown a rule may fail: the server's read then tells
# whether the FIN went out.
c2 = socket.create_connection(("127.0.0.1", port))
y, _ = srv.accept()
attempt("shutdown second client", lambda: c2.shutdown(socket.SHUT_WR))
y.settimeout(0.5)   # no FIN when the shutdown failed: the read times out


def read_second():
    try:
        return y.recv(1)
    except socket.timeout:
        return "timed out"


attempt("server reads second", read_second)
for s in (c, x, c2, y, srv):
    s.close()

# A unix listener with an abstract name, connected to twice: rules match its path ("@name").
name = f"\0sockshim-calls-{os.getpid()}"
u = socket.socket(socket.AF_UNIX)
u.bind(name)
u.listen(2)
for i in (1, 2):
    uc = socket.socket(socket.AF_UNIX)
    attempt(f"unix connect {i}", lambda: uc.connect(name))
    uc.close()
u.close()
