"""signal_transfers.py N: N times one byte sent on one end of a loopback TCP connection and
received on the other (blocking send and recv), while an interval timer delivers SIGALRM every
200 µs. A signal that lands while seccomp mode's supervisor makes the call must not make it
twice (a restarted or retried send would send its byte again, a retried recv would take the next
byte). Prints "ok N" and how many signals came (at least one); exit 1 at the first byte out of
place.
"""
import signal
import socket
import sys

n = int(sys.argv[1])
signals = 0


def tick(*_):
    global signals
    signals += 1


signal.signal(signal.SIGALRM, tick)
signal.siginterrupt(signal.SIGALRM, False)   # SA_RESTART, as most programs' handlers
ln = socket.socket()
ln.bind(("127.0.0.1", 0))
ln.listen(1)
c = socket.create_connection(ln.getsockname())
s, _ = ln.accept()
signal.setitimer(signal.ITIMER_REAL, 0.0002, 0.0002)
for i in range(n):
    out = bytes([i % 251])
    c.send(out)
    got = s.recv(16)
    if got != out:
        signal.setitimer(signal.ITIMER_REAL, 0)
        print(f"transfer {i}: sent {out!r}, received {got!r}")
        sys.exit(1)
signal.setitimer(signal.ITIMER_REAL, 0)
print(f"ok {n} signals={'some' if signals else 'none'}")
