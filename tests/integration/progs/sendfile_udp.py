"""sendfile_udp.py HOST PORT FILE CHUNK: connects a UDP socket and sends FILE as datagrams of
CHUNK bytes with os.sendfile(sock, file, None, CHUNK): no offset, so each call reads from the
file's position and moves it on (sendfile(2) with a null offset). Prints the bytes the calls
reported and the file's position at the end."""
import os
import socket
import sys

host, port, path, chunk = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((host, port))
fd = os.open(path, os.O_RDONLY)
total = 0
while True:
    n = os.sendfile(s.fileno(), fd, None, chunk)
    if n == 0:
        break
    total += n
print(f"sent {total} at {os.lseek(fd, 0, os.SEEK_CUR)}")
sys.stdout.flush()
os._exit(0)
