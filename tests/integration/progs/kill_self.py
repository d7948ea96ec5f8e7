"""kill_self.py: opens a loopback TCP listener, connects a second socket to it, prints the
listener's port, then kills itself with SIGKILL (no exit handlers run, nothing is closed)."""
import os
import signal
import socket
import sys

lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
lst.bind(("127.0.0.1", 0))
lst.listen(4)
c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
c.connect(lst.getsockname())
c.sendall(b"0123456789")
print(lst.getsockname()[1], flush=True)
os.kill(os.getpid(), signal.SIGKILL)
sys.exit("still alive after SIGKILL")
