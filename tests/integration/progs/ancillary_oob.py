"""ancillary_oob.py: the transfers seccomp mode once left to the kernel uncounted (issue 16):
sends and receives on unix sockets (a stream socketpair, a datagram socketpair), a descriptor
passed with SCM_RIGHTS (sendmsg, and recvmsg with room for the control message), and TCP
out-of-band data (send and recv with MSG_OOB). Prints what arrived."""
import array
import os
import select
import socket

a, b = socket.socketpair()
a.sendall(b"hello")
print("stream", b.recv(16))
r, w = os.pipe()
a.sendmsg([b"fd"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [w]))])
msg, anc, flags, _ = b.recvmsg(16, socket.CMSG_SPACE(array.array("i").itemsize))
fds = array.array("i")
for level, kind, data in anc:
    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
        fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
os.write(fds[0], b"x")
print("rights", msg, len(fds), os.read(r, 1), flags)
c, d = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
c.send(b"datagram")
print("dgram", d.recv(64))
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
cli = socket.create_connection(srv.getsockname())
acc, _ = srv.accept()
cli.send(b"a")
cli.send(b"!", socket.MSG_OOB)
print("inline", acc.recv(1))
select.select([], [], [acc], 5)   # the urgent byte has arrived
print("oob", acc.recv(1, socket.MSG_OOB))
