"""Children that end in different ways, for the process records (test_seccomp_exits.py).

The program listens on 127.0.0.1 and connects to itself; then
  child A: makes a socket of its own and connects it to the listener, then os._exit(3) with it
           still open (no exit handlers run: only how the process ended says so);
  child B: makes a socket and is killed with SIGKILL by the parent;
  child C: forks grandchild G, which exits 6 with one UDP socket open; C reaps G and exits 0.
The parent reaps A and B, leaves its own listener open (a leak of the command) and exits 0.
Prints the children's pids and wait statuses.
"""
import os
import signal
import socket
import sys
import time

srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.bind(("127.0.0.1", 0))
srv.listen(8)
port = srv.getsockname()[1]

a = os.fork()
if a == 0:
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    os._exit(3)
_, st_a = os.waitpid(a, 0)

r, w = os.pipe()
b = os.fork()
if b == 0:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    os.write(w, b"x")
    time.sleep(30)
    os._exit(0)
os.read(r, 1)
os.kill(b, signal.SIGKILL)
_, st_b = os.waitpid(b, 0)

c = os.fork()
if c == 0:
    g = os.fork()
    if g == 0:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        os._exit(6)
    os.waitpid(g, 0)
    print(f"G {g}", flush=True)
    os._exit(0)
_, st_c = os.waitpid(c, 0)
print(f"A {a} {st_a}\nB {b} {st_b}\nC {c} {st_c}", flush=True)
sys.stdout.flush()
os._exit(0)   # the listener stays open: the command's leak
