"""nonblocking_connect.py MODE HOST PORT: one non-blocking TCP connect, then closes the socket.

MODE sockopt:  connect_ex, then (on EINPROGRESS) select for writability, then
               getsockopt(SO_ERROR) tells the outcome.
MODE transfer: connect_ex, then (on EINPROGRESS) select for writability, then send(b"x") without
               asking SO_ERROR; the first transfer tells the outcome.
Prints JSON {"connect_ex": NAME, "so_error": NAME or null, "send": NAME or null} where NAME is
"OK" or an errno name."""
import errno
import json
import select
import socket
import sys


def name(code):
    return "OK" if code == 0 else errno.errorcode.get(code, str(code))


mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
out = {"connect_ex": None, "so_error": None, "send": None}
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setblocking(False)
rc = s.connect_ex((host, port))
out["connect_ex"] = name(rc)
if rc == errno.EINPROGRESS:
    _, w, _ = select.select([], [s], [], 5)
    if not w:
        out["select"] = "timeout"
if rc in (0, errno.EINPROGRESS):
    if mode == "sockopt":
        out["so_error"] = name(s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
    else:
        try:
            s.send(b"x")
            out["send"] = "OK"
        except OSError as e:
            out["send"] = name(e.errno)
s.close()
print(json.dumps(out, sort_keys=True))
