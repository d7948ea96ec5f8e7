"""errno_probe.py CLOSED_PORT DIR: real socket failures (and a few successes), no rules needed.
Prints one JSON [case, outcome] per line; outcome is "OK <result>" or the errno name the program
saw. Nothing in the output depends on ports, pids or fd numbers, so a plain run and a run under
the shim can be compared line for line."""
import errno
import json
import os
import select
import signal
import socket
import sys

closed_port, d = int(sys.argv[1]), sys.argv[2]
signal.signal(signal.SIGPIPE, signal.SIG_IGN)
results = []


def case(name, fn):
    try:
        v = fn()
        results.append([name, "OK" if v is None else f"OK {v!r}"])
    except socket.gaierror as e:
        results.append([name, "gai " + str(e.errno)])
    except OSError as e:
        results.append([name, errno.errorcode.get(e.errno, str(e.errno))])


def unused_fd():
    fd = 900
    while True:
        try:
            os.fstat(fd)
            fd += 1
        except OSError:
            return fd


# Blocking connect to a closed port.
def connect_refused():
    with socket.socket() as s:
        s.connect(("127.0.0.1", closed_port))


case("connect to a closed port (blocking)", connect_refused)

# A loopback TCP pair for the rest.
lst = socket.socket()
lst.bind(("127.0.0.1", 0))
lst.listen(4)
cli = socket.socket()
cli.connect(lst.getsockname())
srv, _ = lst.accept()

case("connect an already connected socket", lambda: cli.connect(lst.getsockname()))


def bind_in_use():
    with socket.socket() as s:
        s.bind(lst.getsockname())


case("bind to a port in use", bind_in_use)


def recv_nonblocking_tcp():
    srv.setblocking(False)
    try:
        return srv.recv(10)
    finally:
        srv.setblocking(True)


case("recv on an empty non-blocking TCP socket", recv_nonblocking_tcp)
case("send on TCP", lambda: cli.send(b"hello"))
case("recv on TCP", lambda: srv.recv(100))
case("write(2) on TCP", lambda: os.write(cli.fileno(), b"abc"))
case("read(2) on TCP", lambda: os.read(srv.fileno(), 100))


def read_nonblocking():
    os.set_blocking(srv.fileno(), False)
    try:
        return os.read(srv.fileno(), 10)
    finally:
        os.set_blocking(srv.fileno(), True)


case("read(2) on an empty non-blocking TCP socket", read_nonblocking)
case("shutdown(SHUT_WR)", lambda: cli.shutdown(socket.SHUT_WR))
case("send after shutdown(SHUT_WR)", lambda: cli.send(b"x"))
case("recv after the peer's shutdown", lambda: srv.recv(10))
case("accept on a connected socket", lambda: cli.accept())
case("getsockopt of an unknown option", lambda: cli.getsockopt(socket.SOL_SOCKET, 9999))
case("setsockopt with a bad length", lambda: cli.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                                            b"x"))
case("getsockopt SO_TYPE", lambda: cli.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE))
case("getsockopt SO_ERROR", lambda: cli.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))


def unconnected(op):
    def run():
        with socket.socket() as s:
            return op(s)
    return run


case("recv on an unconnected TCP socket", unconnected(lambda s: s.recv(10)))
case("send on an unconnected TCP socket", unconnected(lambda s: s.send(b"x")))
case("shutdown of an unconnected TCP socket", unconnected(lambda s: s.shutdown(socket.SHUT_RDWR)))
case("accept on a non-listening socket", unconnected(lambda s: s.accept()))


def listen_udp():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.listen(1)


case("listen on a UDP socket", listen_udp)
case("socket(AF_INET, SOCK_STREAM, IPPROTO_UDP)",
     lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_UDP).close())
case("socket(family 12345)", lambda: socket.socket(12345, socket.SOCK_STREAM).close())


# Unix sockets: a socketpair, and a path that does not exist.
a, b = socket.socketpair()
case("send on a socketpair", lambda: a.send(b"ping"))
case("recv on a socketpair", lambda: b.recv(10))


def recv_nonblocking_unix():
    a.setblocking(False)
    try:
        return a.recv(10)
    finally:
        a.setblocking(True)


case("recv on an empty non-blocking unix socket", recv_nonblocking_unix)


def send_epipe():
    b.close()
    return a.send(b"x")


case("send to a socketpair whose peer closed (SIGPIPE ignored)", send_epipe)
case("recv from a socketpair whose peer closed", lambda: a.recv(10))


def unix_connect_missing():
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(os.path.join(d, "no-such.sock"))


case("connect to a missing unix path", unix_connect_missing)


# UDP: nothing to read; a datagram to a closed port comes back as ECONNREFUSED.
def udp_refused():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.connect(("127.0.0.1", closed_port))
        u.send(b"x")
        select.select([u], [], [], 2)
        return u.recv(10)


def udp_nonblocking_empty():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("127.0.0.1", 0))
        u.setblocking(False)
        return u.recvfrom(10)


case("recvfrom on an empty non-blocking UDP socket", udp_nonblocking_empty)
case("UDP send to a closed port, then recv", udp_refused)

# getaddrinfo without the network.
case("getaddrinfo numeric host, bad text",
     lambda: socket.getaddrinfo("not-an-ip", 80, flags=socket.AI_NUMERICHOST))
case("getaddrinfo numeric host",
     lambda: [x[4] for x in socket.getaddrinfo("127.0.0.1", 80, socket.AF_INET,
                                                socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)])

# close and dup of fds that are not open; closing a socket's fd twice.
case("close of a bad fd", lambda: os.close(unused_fd()))
case("dup of a bad fd", lambda: os.dup(unused_fd()) and None)


def close_twice():
    s = socket.socket()
    fd = s.detach()
    os.close(fd)
    os.close(fd)


case("close a socket's fd twice", close_twice)

for s in (srv, cli, lst, a):
    s.close()
for r in results:
    print(json.dumps(r))
