"""connect_n.py HOST PORT N: N blocking TCP connects to HOST:PORT, each on a fresh socket that is
closed afterwards. Prints a JSON list of the outcomes: "OK" or the errno name of the failure."""
import errno
import json
import socket
import sys

host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
outcomes = []
for _ in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # blocking: no timeout set
    try:
        s.connect((host, port))
        outcomes.append("OK")
    except OSError as e:
        outcomes.append(errno.errorcode.get(e.errno, str(e.errno)))
    finally:
        s.close()
print(json.dumps(outcomes))
