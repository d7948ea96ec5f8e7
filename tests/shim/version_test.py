"""`sockshim --version` and `bpfvm --version`: "NAME VERSION" with meson.build's version, plus
"(git COMMIT)" when built from a git checkout, where COMMIT must be the checkout's HEAD.

usage: version_test.py VERSION SOURCE_ROOT EXE...; exit 0 pass, 1 fail."""
import os
import re
import subprocess
import sys

version, source_root, exes = sys.argv[1], sys.argv[2], sys.argv[3:]
failures = 0
try:
    head = subprocess.run(["git", "-C", source_root, "rev-parse", "HEAD"], capture_output=True,
                          text=True, timeout=30, check=True).stdout.strip()
except (OSError, subprocess.CalledProcessError):
    head = None   # a tarball: no commit to show

for exe in exes:
    name = os.path.basename(exe)
    r = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
    line = r.stdout.strip()
    m = re.fullmatch(re.escape(name) + r" (\S+)(?: \(git ([0-9a-f]{12})(-dirty)?\))?", line)
    problems = []
    if r.returncode != 0:
        problems.append(f"exit status {r.returncode}")
    if not m:
        problems.append(f"output {line!r} is not '{name} VERSION [(git COMMIT)]'")
    else:
        if m.group(1) != version:
            problems.append(f"version {m.group(1)!r}, want meson.build's {version!r}")
        if head and not (m.group(2) and head.startswith(m.group(2))):
            problems.append(f"commit {m.group(2)!r}, want HEAD {head[:12]}")
    if problems:
        failures += 1
        print(f"FAIL: {exe} --version: " + "; ".join(problems))
    else:
        print(f"ok: {line}")
sys.exit(1 if failures else 0)
