"""leak_dups.py DIR: leaves sockets open at exit the way C programs do, by duplicating them
(os.dup) and dropping the duplicates; CPython closes the socket objects at finalization, the
duplicates stay open. Leaked: a TCP listener, the client connected to it, the accepted socket,
a unix listener bound to DIR/leak.sock, and (when ::1 works) an IPv6 listener.
Prints JSON {WHAT: {"fd": leaked fd, "local": ADDR, "peer": ADDR}} of the leaks it made,
addresses written as 127.0.0.1:PORT, [::1]:PORT or the unix path."""
import json
import os
import socket
import sys

d = sys.argv[1]
out = {}
lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
lst.bind(("127.0.0.1", 0))
lst.listen(4)
cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
cli.connect(lst.getsockname())
acc, _ = lst.accept()
ul = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
ul.bind(os.path.join(d, "leak.sock"))
ul.listen(1)


def addr(a):
    return f"[{a[0]}]:{a[1]}" if ":" in a[0] else f"{a[0]}:{a[1]}"


out["tcp_listener"] = {"fd": os.dup(lst.fileno()), "local": addr(lst.getsockname())}
out["tcp_client"] = {"fd": os.dup(cli.fileno()), "local": addr(cli.getsockname()),
                     "peer": addr(cli.getpeername())}
out["tcp_accepted"] = {"fd": os.dup(acc.fileno()), "local": addr(acc.getsockname()),
                       "peer": addr(acc.getpeername())}
out["unix_listener"] = {"fd": os.dup(ul.fileno()), "local": ul.getsockname()}
try:
    l6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    l6.bind(("::1", 0))
    l6.listen(1)
    out["tcp6_listener"] = {"fd": os.dup(l6.fileno()), "local": addr(l6.getsockname())}
except OSError:
    pass
print(json.dumps(out, sort_keys=True))
sys.exit(0)
