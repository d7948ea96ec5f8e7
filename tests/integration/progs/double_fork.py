"""double_fork.py: the daemon pattern. The main process forks a middle process, which forks a
grandchild and leaves at once with _exit (no exit handler runs); the grandchild leaves the same
way a moment later. The main process never waits for the middle one and exits after both are
gone, so both end as zombies of whoever adopts them. Prints the two pids as JSON."""
import json
import os
import sys
import time

r, w = os.pipe()
middle = os.fork()
if middle == 0:
    os.close(r)
    grandchild = os.fork()
    if grandchild == 0:
        time.sleep(0.2)
        os._exit(0)
    os.write(w, str(grandchild).encode())
    os._exit(0)
os.close(w)
grandchild = int(os.read(r, 64).decode())
time.sleep(0.8)   # both gone by now; the middle one is our unreaped child
print(json.dumps({"middle": middle, "grandchild": grandchild}))
sys.stdout.flush()
