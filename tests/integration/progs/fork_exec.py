"""fork_exec.py HOST PORT: a parent that forks and execs a child, both using sockets.

The parent connects socket a (sends b"abc", close-on-exec as python makes every socket) and socket
b (sends b"xy", made inheritable). It forks; the child closes its inherited copy of a, then execs
/usr/bin/python3 send_once.py HOST PORT hello B_FD, which closes the inherited b and makes its own
connection. The parent waits for the child, then closes a and b.
Prints JSON {"parent": pid, "child": pid, "child_status": waitpid status}."""
import json
import os
import socket
import sys

host, port = sys.argv[1], sys.argv[2]
child_prog = os.path.join(os.path.dirname(os.path.abspath(__file__)), "send_once.py")
a = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
a.connect((host, int(port)))
a.sendall(b"abc")
b = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
b.connect((host, int(port)))
b.sendall(b"xy")
b.set_inheritable(True)
sys.stdout.flush()
pid = os.fork()
if pid == 0:
    try:
        a.close()
        os.execv("/usr/bin/python3",
                 ["/usr/bin/python3", "-I", child_prog, host, port, "hello", str(b.fileno())])
    finally:
        os._exit(127)
_, status = os.waitpid(pid, 0)
a.close()
b.close()
print(json.dumps({"parent": os.getpid(), "child": pid, "child_status": status}))
