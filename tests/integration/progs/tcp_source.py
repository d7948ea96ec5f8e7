"""A TCP sender for the rate test: connects to 127.0.0.1:PORT, sends BYTES seeded random bytes,
shuts down its side and reads the peer's answer to EOF. Prints one JSON line:
{"bytes": BYTES, "sha256": HEX}.

Usage: tcp_source.py PORT BYTES
"""
import hashlib
import json
import random
import socket
import sys

port, size = int(sys.argv[1]), int(sys.argv[2])
payload = random.Random(15).randbytes(size)
with socket.create_connection(("127.0.0.1", port), timeout=60) as c:
    c.sendall(payload)
    c.shutdown(socket.SHUT_WR)
    while c.recv(4096):   # tcp_sink's answer, then its close: everything arrived
        pass
print(json.dumps({"bytes": size, "sha256": hashlib.sha256(payload).hexdigest()}))
