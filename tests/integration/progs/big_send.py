"""big_send.py: one blocking send of 8 MiB on loopback TCP to a reader (a forked child) that
takes 1 MiB every 10 ms: the send waits until the socket took all of it and returns 8388608, as
a blocking send does (seccomp mode's supervisor holds it while the socket drains, rather than
answer a short count). Prints what the send returned and the reader's exit status (0: it read
all 8 MiB).
"""
import os
import socket
import time

SIZE = 8 << 20
ln = socket.socket()
ln.bind(("127.0.0.1", 0))
ln.listen(1)
c = socket.create_connection(ln.getsockname())
s, _ = ln.accept()
pid = os.fork()
if pid == 0:
    c.close()
    got = 0
    for _ in range(2000):
        if got >= SIZE:
            break
        time.sleep(0.01)
        b = s.recv(1 << 20)
        if not b:
            break
        got += len(b)
    os._exit(0 if got == SIZE else 1)
s.close()
print("one send moved", c.send(b"z" * SIZE))
c.close()
print("reader", os.waitpid(pid, 0)[1])
