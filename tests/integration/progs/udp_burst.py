"""UDP through the shim, both ends in this process: sends N datagrams, each a counter plus a CRC32
of its payload, from one socket to another on loopback, then receives until 0.5 s pass in
silence. Prints one JSON line: {"sent": N, "received": R, "bad_crc": B}.

Usage: udp_burst.py N
"""
import json
import socket
import struct
import sys
import zlib

n = int(sys.argv[1])
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.bind(("127.0.0.1", 0))
rx.settimeout(0.5)
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n):
    payload = struct.pack("!I", i) + bytes((i + k) % 251 for k in range(60))
    tx.sendto(payload + struct.pack("!I", zlib.crc32(payload)), rx.getsockname())
received = bad = 0
while received < 4 * n:
    try:
        d = rx.recv(2048)
    except socket.timeout:
        break
    received += 1
    if len(d) < 4 or struct.unpack("!I", d[-4:])[0] != zlib.crc32(d[:-4]):
        bad += 1
print(json.dumps({"sent": n, "received": received, "bad_crc": bad}))
