"""A UDP receiver for the inbound_loss test: binds 127.0.0.1:0, publishes the port, counts the
datagrams that arrive until the sender says it is done and 0.5 s pass in silence (at most 60 s
in all). Prints one JSON line: {"received": R, "by_port": {SOURCE_PORT: COUNT, ...}}.

Usage: udp_count.py PORT_FILE DONE_FILE
"""
import json
import os
import socket
import sys
import time

port_file, done_file = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
# Room for every datagram of the run (10 000 at about 768 bytes of kernel memory each), so a
# receiver that a loaded machine leaves unscheduled for a while loses none to a full buffer: the
# counts must show the filter's drops only. SO_RCVBUFFORCE passes rmem_max (CI runs as root);
# without the privilege SO_RCVBUF gets what rmem_max allows.
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)   # <asm-generic/socket.h>; python lacks it
try:
    s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 << 20)
except PermissionError:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
s.bind(("127.0.0.1", 0))
with open(port_file + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(port_file + ".tmp", port_file)   # the sender never reads half a number
s.settimeout(0.5)
received = 0
by_port = {}
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        _, (_, port) = s.recvfrom(2048)
        received += 1
        by_port[port] = by_port.get(port, 0) + 1
    except socket.timeout:
        if os.path.exists(done_file):
            break
print(json.dumps({"received": received, "by_port": by_port}))
