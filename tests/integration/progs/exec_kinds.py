"""exec_kinds.py: sockets across an exec, and the records of execs (issue 16: seccomp mode's
process records and leaks must be the preload object's).

Before the exec: a TCP listener, a client and the socket accepted for it (Python makes them
FD_CLOEXEC: the exec closes them), and two UDP sockets made inheritable. Then os.execvpe with a
PATH whose first directory does not exist (a failed execve, then the one that works). The new
image (`child KEPT CLOSED`) closes one inherited socket (not counted: the preload object's new
image did not make it), leaves the other open (no leak: inherited), and forks a child that
execs /bin/true."""
import os
import socket
import sys

if len(sys.argv) > 1 and sys.argv[1] == "child":
    kept, closed = int(sys.argv[2]), int(sys.argv[3])
    os.fstat(kept)
    os.close(closed)
    pid = os.fork()
    if pid == 0:
        os.execv("/bin/true", ["true"])
    _, status = os.waitpid(pid, 0)
    print("new image: true exited", os.waitstatus_to_exitcode(status))
    sys.exit(0)

srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
cli = socket.create_connection(srv.getsockname())
acc, _ = srv.accept()
keep = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
keep.set_inheritable(True)
close_later = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
close_later.set_inheritable(True)
print("exec", flush=True)
exe = sys.executable
env = dict(os.environ, PATH="/nonexistent-sockshim-dir:" + os.path.dirname(exe))
os.execvpe(os.path.basename(exe), [os.path.basename(exe), "-I", os.path.abspath(__file__), "child",
                                   str(keep.fileno()), str(close_later.fileno())], env)
