"""Runs a server and a client in one `sockshim run` (both inherit the preload object), so the
capture sees each connection from both ends. Waits for the server's listening port in
/proc/net/tcp (no socket of its own, so the capture holds only the programs' traffic), runs the
client, stops the server, and exits with the client's status.

    capture_driver.py PORT TIMEOUT -- SERVER ARGS... -- CLIENT ARGS...
"""
import os
import signal
import subprocess
import sys
import time


def listening(port):
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    # local_address is ADDR:PORT in hex; state 0A is LISTEN.
                    if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
                        return True
        except OSError:
            pass
    return False


def main():
    port, timeout = int(sys.argv[1]), float(sys.argv[2])
    rest = sys.argv[4:]
    cut = rest.index("--")
    server, client = rest[:cut], rest[cut + 1:]
    srv = subprocess.Popen(server, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while not listening(port):
            if time.monotonic() > deadline or srv.poll() is not None:
                print("capture_driver: the server never listened", file=sys.stderr)
                return 3
            time.sleep(0.05)
        try:
            return subprocess.call(client, timeout=timeout)
        except subprocess.TimeoutExpired:
            return 124
    finally:
        if srv.poll() is None:
            os.killpg(srv.pid, signal.SIGTERM)
        try:
            srv.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(srv.pid, signal.SIGKILL)
            srv.wait(5)


sys.exit(main())
