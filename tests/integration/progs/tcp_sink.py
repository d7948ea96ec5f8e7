"""A TCP receiver for the inbound_loss and rate tests: listens on 127.0.0.1:0, publishes the port,
accepts one connection (within 30 s), reads it to EOF and answers with the SHA-256 of what it read
and its length, then closes. Prints one JSON line: {"bytes": N, "sha256": HEX, "seconds": S},
S from the accept to EOF.

Usage: tcp_sink.py PORT_FILE
"""
import hashlib
import json
import os
import socket
import sys
import time

port_file = sys.argv[1]
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.bind(("127.0.0.1", 0))
ls.listen(1)
with open(port_file + ".tmp", "w") as f:
    f.write(str(ls.getsockname()[1]))
os.rename(port_file + ".tmp", port_file)
ls.settimeout(30)
c, _ = ls.accept()
start = time.monotonic()
c.settimeout(60)
h = hashlib.sha256()
n = 0
while True:
    chunk = c.recv(1 << 16)
    if not chunk:
        break
    h.update(chunk)
    n += len(chunk)
seconds = time.monotonic() - start
c.sendall(f"{n} {h.hexdigest()}\n".encode())
c.close()
ls.close()
print(json.dumps({"bytes": n, "sha256": h.hexdigest(), "seconds": seconds}))
