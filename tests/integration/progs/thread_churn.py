"""THREADS client threads each make N TCP connections to this process's own server on
127.0.0.1 at once: connect, send 4 bytes, read the 4 echoed, close. The server takes each
connection in a thread of its own. Prints how many exchanges ended well and how many connects
were refused (by a rule), sorted, so the output does not depend on the threads' order.

usage: thread_churn.py THREADS N
"""
import socket
import sys
import threading

threads, n = int(sys.argv[1]), int(sys.argv[2])
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.bind(("127.0.0.1", 0))
srv.listen(threads * 2)
srv.settimeout(30)
port = srv.getsockname()[1]
lock = threading.Lock()
done = {"ok": 0, "refused": 0, "other": []}


def echo(c):
    with c:
        c.settimeout(30)
        got = b""
        while len(got) < 4:
            b = c.recv(4 - len(got))
            if not b:
                return
            got += b
        c.sendall(got)


def serve(total):
    workers = []
    for _ in range(total):
        try:
            c, _ = srv.accept()
        except OSError:
            break
        t = threading.Thread(target=echo, args=(c,))
        t.start()
        workers.append(t)
    for t in workers:
        t.join(30)


def client(k):
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.settimeout(30)
            s.connect(("127.0.0.1", port))
            msg = b"%04d" % ((k * n + i) % 10000)
            s.sendall(msg)
            got = b""
            while len(got) < 4:
                b = s.recv(4 - len(got))
                if not b:
                    break
                got += b
            with lock:
                if got == msg:
                    done["ok"] += 1
                else:
                    done["other"].append(repr(got))
        except ConnectionRefusedError:
            with lock:
                done["refused"] += 1
        finally:
            s.close()


clients = [threading.Thread(target=client, args=(k,)) for k in range(threads)]
# The server takes as many connections as are not refused; it is told how many when they end.
server = threading.Thread(target=serve, args=(threads * n,))
server.start()
for t in clients:
    t.start()
for t in clients:
    t.join(60)
# Refused connects never reach accept: wake the server's remaining accepts with no-op connects
# counted below as "wakeups", so it ends.
for _ in range(done["refused"]):
    w = socket.create_connection(("127.0.0.1", port), timeout=30)
    w.close()
server.join(60)
srv.close()
print(f"ok {done['ok']} refused {done['refused']} other {sorted(done['other'])}")
