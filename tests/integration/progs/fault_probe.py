"""Small probes of injected faults as a Python program sees them. Prints one JSON line.

  fault_probe.py http URL            http.client GET: {"outcome": "OK" | exception name, "errno": ...}
  fault_probe.py nbconnect HOST PORT non-blocking connect, select, SO_ERROR: {"connect": errno name,
                                     "so_error": errno name}
  fault_probe.py sockets N           N UDP socket() calls: {"pattern": ".F.." ('F' = failed)}
  fault_probe.py connect_until HOST PORT FLAG_FILE LIMIT OK|FAIL
                                     connects every 20 ms until one succeeds (OK) or fails (FAIL),
                                     at most LIMIT tries; after each try appends its outcome to
                                     FLAG_FILE: {"outcomes": [...]}
"""
import errno
import http.client
import json
import select
import socket
import sys
import time
import urllib.parse


def name(e):
    return errno.errorcode.get(e, str(e)) if e else "OK"


def http_get(url):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    try:
        c.request("GET", u.path or "/")
        r = c.getresponse()
        r.read()
        return {"outcome": "OK", "status": r.status}
    except OSError as e:
        return {"outcome": type(e).__name__, "errno": name(e.errno)}
    finally:
        c.close()


def nbconnect(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    rc = s.connect_ex((host, port))
    out = {"connect": name(rc)}
    if rc == errno.EINPROGRESS:
        select.select([], [s], [], 5)
        out["so_error"] = name(s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
    s.close()
    return out


def sockets(n):
    pattern = ""
    for _ in range(n):
        try:
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close()
            pattern += "."
        except OSError:
            pattern += "F"
    return {"pattern": pattern}


def connect_until(host, port, flag_file, limit, stop_on):
    outcomes = []
    for _ in range(limit):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        rc = s.connect_ex((host, port))
        s.close()
        outcomes.append(name(rc))
        with open(flag_file, "a") as f:
            f.write(name(rc) + "\n")
        if (rc == 0) == (stop_on == "OK"):
            break
        time.sleep(0.02)
    return {"outcomes": outcomes}


cmd = sys.argv[1]
if cmd == "http":
    result = http_get(sys.argv[2])
elif cmd == "nbconnect":
    result = nbconnect(sys.argv[2], int(sys.argv[3]))
elif cmd == "sockets":
    result = sockets(int(sys.argv[2]))
elif cmd == "connect_until":
    result = connect_until(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), sys.argv[6])
else:
    sys.exit(f"unknown probe {cmd}")
print(json.dumps(result))
sys.stdout.flush()

