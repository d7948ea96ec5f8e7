"""sendfile_client.py HOST PORT FILE: connects (blocking) and sends FILE with socket.sendfile(),
which moves it with os.sendfile (sendfile(2) with an offset of its own) and falls back to send()
only when the first sendfile fails. Prints the bytes socket.sendfile reported and the file's
position afterwards, or "errno NAME" when it raised OSError. Exit 0 either way."""
import errno
import os
import socket
import sys

host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.connect((host, port))
with open(path, "rb") as f:
    try:
        sent = s.sendfile(f)
        print(f"sent {sent} at {f.tell()}")
    except OSError as e:
        print(f"errno {errno.errorcode.get(e.errno, e.errno)}")
s.close()
sys.stdout.flush()
os._exit(0)
