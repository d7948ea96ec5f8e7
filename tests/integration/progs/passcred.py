"""passcred.py: a unix send to a receiver that asks for the sender's credentials (SO_PASSCRED)
must show this process's pid, not a supervisor's. Prints "passcred MSG True"."""
import os
import socket
import struct

e, f = socket.socketpair()
f.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
e.send(b"who")
msg, anc, _, _ = f.recvmsg(16, socket.CMSG_SPACE(12))
pids = [struct.unpack("i", data[:4])[0] for level, kind, data in anc
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS]
print("passcred", msg, pids == [os.getpid()])
