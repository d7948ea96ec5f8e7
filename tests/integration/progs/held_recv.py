"""held_recv.py: a blocking recv that waits (seccomp mode's supervisor holds it), ended three
ways, each printing what the program saw:
  - SIGALRM whose handler raises (the recv ends; Python retries a recv only when the handler
    returns): "interrupted", and the byte sent afterwards still arrives: nothing was taken for
    the recv that left;
  - SIGALRM with SA_RESTART and a handler that returns: the recv goes on and gets the byte sent
    later;
  - SO_RCVTIMEO of 0.3 s: EAGAIN in about that time.
"""
import signal
import socket
import struct
import time


class Interrupted(Exception):
    pass


def raise_it(*_):
    raise Interrupted()


ln = socket.socket()
ln.bind(("127.0.0.1", 0))
ln.listen(1)
c = socket.create_connection(ln.getsockname())
s, _ = ln.accept()

signal.signal(signal.SIGALRM, raise_it)
signal.setitimer(signal.ITIMER_REAL, 0.3)
try:
    s.recv(16)
    print("not interrupted")
except Interrupted:
    print("interrupted")
c.send(b"a")
print("next recv:", s.recv(16))

ticks = []
signal.signal(signal.SIGALRM, lambda *_: ticks.append(1))
signal.siginterrupt(signal.SIGALRM, False)
signal.setitimer(signal.ITIMER_REAL, 0.2)
pid = __import__("os").fork()
if pid == 0:
    time.sleep(0.6)
    c.send(b"b")
    __import__("os")._exit(0)
print("restarted recv:", s.recv(16), "after", len(ticks), "signal")
__import__("os").waitpid(pid, 0)

s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 0, 300000))
start = time.monotonic()
try:
    s.recv(16)
    print("no timeout")
except BlockingIOError:
    took = time.monotonic() - start
    print("timed out:", "about 0.3 s" if 0.25 <= took < 1.5 else f"{took:.2f} s")
