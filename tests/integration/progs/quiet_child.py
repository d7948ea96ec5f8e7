"""quiet_child.py: a child that makes no socket call (issue 16: seccomp mode must record it as
the preload object's fork handler does). It prints and exits 3; the parent waits for it."""
import os
import sys

pid = os.fork()
if pid == 0:
    print("child", flush=True)
    sys.exit(3)
_, status = os.waitpid(pid, 0)
print("child exited", os.waitstatus_to_exitcode(status))
