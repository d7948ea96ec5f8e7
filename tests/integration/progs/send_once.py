"""send_once.py HOST PORT TEXT [CLOSE_FD]: first closes CLOSE_FD (an inherited socket) if given,
then connects (blocking), sends TEXT, closes. Exit 0 on success."""
import os
import socket
import sys

host, port, text = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if len(sys.argv) > 4:
    os.close(int(sys.argv[4]))
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.connect((host, port))
s.sendall(text.encode())
s.close()
