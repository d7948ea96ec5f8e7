"""Issue 18, hostile files and leftovers around the stats segment.

- a FIFO or a directory planted at a segment's path makes `stats`, `ctl`, `run` and a
  preloaded program's start fail at once (or count privately), never hang;
- a segment whose creator died before finishing it costs a program's start no waiting (counted
  with strace: no 2 s of 5 ms naps);
- `sockshim stats --gc` removes what a run killed with SIGKILL left, keeps `--keep`'s and what
  is in use;
- the text report shows control bytes of a program's name as escapes, never raw;
- a double fork's middle process, left a zombie, is reported gone, not "running".

Alone (not in parallel with other tests): --gc looks at every segment of this user.
"""
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def planted(tmp):
    for kind in ("fifo", "directory"):
        name = h.new_segment_name()
        path = h.segment_path(name)
        if kind == "fifo":
            os.mkfifo(path, 0o666)
            h.on_cleanup(lambda p=path: os.path.exists(p) and os.unlink(p))
        else:
            os.mkdir(path)
            h.on_cleanup(lambda p=path: os.path.isdir(p) and os.rmdir(p))
        want = "FIFO" if kind == "fifo" else "directory"
        r = h.run_plain([h.SOCKSHIM, "stats", name], timeout=10)
        h.expect(f"{kind}: stats exit status", r.rc, 1)
        h.check("not a regular file" in r.stderr and want in r.stderr,
                f"{kind}: stats says what is there: got {r.stderr.strip()!r}")
        r = h.run_plain([h.SOCKSHIM, "ctl", name, "list"], timeout=10)
        h.expect(f"{kind}: ctl exit status", r.rc, 1)
        r = h.run_plain([h.SOCKSHIM, "run", "--name", name, "--", "true"], timeout=10,
                        env=h.clean_env({"SOCKSHIM_LIB": h.LIBSOCKSHIM}))
        h.expect(f"{kind}: run exit status", r.rc, 2)
        h.check("not a regular file" in r.stderr, f"{kind}: run says why: got {r.stderr.strip()!r}")
        r = h.run_plain([h.PYTHON, "-I", "-c", "print('main ran')"], timeout=10,
                        env=h.clean_env({"LD_PRELOAD": h.LIBSOCKSHIM, "SOCKSHIM_STATS": name}))
        h.expect(f"{kind}: a preloaded program still runs", (r.rc, r.stdout.strip()), (0, "main ran"))
        h.check("counting in this process only" in r.stderr,
                f"{kind}: the program is told its counts stay private: got {r.stderr.strip()!r}")
        h.check(os.path.lexists(path), f"{kind}: the planted file is left alone")


def never_completed(tmp):
    # A real segment's size, then a file of that size full of zeros: a creator that died after
    # ftruncate, before it wrote the header.
    name = h.new_segment_name()
    r = h.run_shim(["true"], keep=True, name=name)
    size = os.stat(h.segment_path(name)).st_size
    h.remove_segment(name)
    with open(h.segment_path(name), "wb") as f:
        f.truncate(size)
    strace = shutil.which("strace")
    if not strace:
        h.fail("strace is missing (scripts/setup.sh installs it)")
        return
    log = os.path.join(tmp, "strace.log")
    r = h.run_plain([strace, "-f", "-qq", "-o", log, "-e", "trace=nanosleep,clock_nanosleep",
                     h.PYTHON, "-I", "-c", "pass"], timeout=20,
                    env=h.clean_env({"LD_PRELOAD": h.LIBSOCKSHIM, "SOCKSHIM_STATS": name}))
    h.expect("never-completed segment: the program runs", r.rc, 0)
    h.check("never completed" in r.stderr, f"it says the segment is broken: got {r.stderr.strip()!r}")
    with open(log) as f:
        naps = sum(1 for line in f if "nanosleep(" in line)
    h.check(naps < 20, f"naps waiting for a dead creator: got {naps}, want < 20 (2 s would be 400)")
    h.remove_segment(name)


def garbage(tmp):
    env = h.clean_env({"SOCKSHIM_LIB": h.LIBSOCKSHIM})
    kept, killed, busy = h.new_segment_name(), h.new_segment_name(), h.new_segment_name()
    for n in (kept, killed, busy):
        h.on_cleanup(lambda n=n: h.remove_segment(n))
    h.run_shim(["true"], keep=True, name=kept)
    procs = {}
    for n in (killed, busy):
        procs[n] = subprocess.Popen([h.SOCKSHIM, "run", "--name", n, "--", "sleep", "30"], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True)
        h.on_cleanup(lambda p=procs[n]: h._kill_group(p))
    for _ in range(300):
        if all(os.path.exists(h.segment_path(n)) for n in (killed, busy)):
            break
        time.sleep(0.01)
    time.sleep(0.3)   # the sleeps have attached
    os.killpg(procs[killed].pid, signal.SIGKILL)   # run and its sleep, as a CI job's timeout does
    procs[killed].wait(timeout=10)
    r = h.run_plain([h.SOCKSHIM, "stats", "--gc"], timeout=20)
    h.expect("stats --gc: exit status", r.rc, 0)
    h.check(f"removed {killed}" in r.stdout, f"the killed run's segment is removed: {r.stdout!r}")
    h.check(f"kept {kept}" in r.stdout, f"the kept one is kept: {r.stdout!r}")
    h.check(f"in use {busy}" in r.stdout, f"the running one is in use: {r.stdout!r}")
    h.expect("killed run's segment after --gc", os.path.exists(h.segment_path(killed)), False)
    h.expect("kept segment after --gc", os.path.exists(h.segment_path(kept)), True)
    h.expect("running run's segment after --gc", os.path.exists(h.segment_path(busy)), True)
    r = h.run_plain([h.SOCKSHIM, "stats", "NAME", "--gc"])
    h.expect("stats NAME --gc: exit status (usage)", r.rc, 2)
    os.killpg(procs[busy].pid, signal.SIGTERM)
    procs[busy].wait(timeout=10)


def escapes(tmp):
    evil = "\x1b[31mred\x07"
    r = h.run_shim(["bash", "-c", f"exec -a $'\\e[31mred\\a' true"], options=["--summary"])
    h.expect("argv0 with escapes: exit status", r.rc, 0)
    h.check("\x1b" not in r.stderr and "\x07" not in r.stderr,
            f"no raw control bytes in the text report: got {r.stderr!r}")
    h.check("\\x1b[31mred\\x07" in r.stderr, f"they are shown as escapes: got {r.stderr!r}")
    h.check(any(p.get("argv0") == evil for p in h.processes(r.data)),
            f"the JSON keeps the name as it is: got {[p.get('argv0') for p in h.processes(r.data)]}")


def zombies(tmp):
    # Adopt orphans ourselves and do not reap them yet: the double fork's middle process stays a
    # zombie while `run` settles its records, as under an init that reaps late (or never).
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_CHILD_SUBREAPER = 36
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        h.fail("prctl(PR_SET_CHILD_SUBREAPER) failed")
        return
    try:
        r = h.run_shim(h.python_prog("double_fork.py"))
        h.expect("double fork: exit status", r.rc, 0)
        pids = json.loads(r.stdout)
        states = {p.get("pid"): p.get("state") for p in h.processes(r.data)}
        h.expect("double fork: the middle process", states.get(pids["middle"]), "vanished")
        h.expect("double fork: the grandchild", states.get(pids["grandchild"]), "vanished")
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break


def body(tmp):
    planted(tmp)
    never_completed(tmp)
    garbage(tmp)
    escapes(tmp)
    zombies(tmp)


h.main("hostile_files", body)
