"""unix_sockets.py DIR: real AF_UNIX traffic inside one process, every socket closed at the end.

stream: a listener bound to DIR/stream.sock, a client that connects, the accepted socket;
        client sends b"ping" (4 bytes), server sends back b"pong!" (5 bytes).
dgram:  two sockets bound to DIR/a.sock and DIR/b.sock; a sends b"hello" (5) to b, b sends
        b"hi" (2) back to a with sendto/recvfrom.
Prints one JSON object with what it saw; exits 0 when everything arrived as sent."""
import json
import os
import socket
import sys

d = sys.argv[1]
seen = {}

# stream
lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
lst.bind(os.path.join(d, "stream.sock"))
lst.listen(1)
cli = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
cli.settimeout(None)
cli.connect(os.path.join(d, "stream.sock"))
srv, _ = lst.accept()
cli.send(b"ping")
seen["server_got"] = srv.recv(100).decode()
srv.send(b"pong!")
seen["client_got"] = cli.recv(100).decode()
srv.close()
cli.close()
lst.close()

# datagram
a = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
b = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
a.bind(os.path.join(d, "a.sock"))
b.bind(os.path.join(d, "b.sock"))
a.sendto(b"hello", os.path.join(d, "b.sock"))
data, frm = b.recvfrom(100)
seen["b_got"] = [data.decode(), os.path.basename(frm)]
b.sendto(b"hi", frm)
data, frm = a.recvfrom(100)
seen["a_got"] = [data.decode(), os.path.basename(frm)]
a.close()
b.close()

print(json.dumps(seen, sort_keys=True))
ok = seen == {"server_got": "ping", "client_got": "pong!",
              "b_got": ["hello", "a.sock"], "a_got": ["hi", "b.sock"]}
sys.exit(0 if ok else 1)
