"""Shared helpers of the integration tests: real, unmodified programs under `sockshim run`.

Every test_*.py is started by meson as

    /usr/bin/python3 tests/integration/test_NAME.py SOCKSHIM LIBSOCKSHIM

and exits 0 (pass), 1 (a check failed; every failed check is printed as "LABEL: got X, want Y"),
or 77 (skipped: a program it needs is missing; one line says which).

Rules the helpers enforce: loopback only; free ports come from binding port 0; every wait is
bounded (socket timeouts, subprocess timeouts that kill the whole process group); every server is
stopped in a finally; stats segments are named it-TEST-PID-N and never left in /dev/shm.
"""

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROGS = os.path.join(HERE, "progs")
PYTHON = "/usr/bin/python3"  # Debian's; tests and helper programs run with it, never a venv's

SOCKSHIM = None
LIBSOCKSHIM = None
TEST = None
_failures = []
_segment_counter = 0
_tmpdir = None
_cleanups = []


# ---------------------------------------------------------------------------------------------
# Start, checks, end


def setup(test_name):
    """Reads SOCKSHIM and LIBSOCKSHIM from the command line; returns a private temp dir."""
    global SOCKSHIM, LIBSOCKSHIM, TEST, _tmpdir
    TEST = test_name
    if len(sys.argv) != 3:
        print(f"usage: {sys.argv[0]} SOCKSHIM LIBSOCKSHIM", file=sys.stderr)
        sys.exit(2)
    SOCKSHIM = os.path.abspath(sys.argv[1])
    LIBSOCKSHIM = os.path.abspath(sys.argv[2])
    for p in (SOCKSHIM, LIBSOCKSHIM):
        if not os.path.exists(p):
            print(f"FAIL: {p} does not exist (build it first)", file=sys.stderr)
            sys.exit(1)
    _tmpdir = tempfile.mkdtemp(prefix=f"sockshim-it-{test_name}-")
    return _tmpdir


def skip(why):
    """Exit 77 (meson: skipped) with one line saying which program is missing."""
    print(f"SKIP: {why}")
    _cleanup()
    sys.exit(77)


def need_program(path_or_name, package=None):
    """The absolute path of an external program, or skip the test when it is missing."""
    p = path_or_name if os.path.isabs(path_or_name) else shutil.which(path_or_name)
    if not p or not os.access(p, os.X_OK):
        skip(f"{path_or_name} not found" + (f" (apt-get install {package})" if package else ""))
    return p


def fail(msg):
    _failures.append(msg)
    print(f"FAIL: {msg}")


def check(cond, msg):
    if not cond:
        fail(msg)
    return bool(cond)


def expect(label, got, want):
    """Exact comparison; the failure says "LABEL: got X, want Y"."""
    if got != want:
        fail(f"{label}: got {got!r}, want {want!r}")
        return False
    return True


def expect_gt(label, got, bound):
    if not (isinstance(got, int) and got > bound):
        fail(f"{label}: got {got!r}, want > {bound!r}")
        return False
    return True


def expect_ge(label, got, bound):
    if not (isinstance(got, int) and got >= bound):
        fail(f"{label}: got {got!r}, want >= {bound!r}")
        return False
    return True


def finish():
    """Ends the test: exit 1 when any check failed, 0 otherwise."""
    _cleanup()
    if _failures:
        print(f"{TEST}: {len(_failures)} check(s) failed")
        sys.exit(1)
    print(f"{TEST}: all checks passed")
    sys.exit(0)


def on_cleanup(fn):
    _cleanups.append(fn)


def _cleanup():
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception as e:  # cleanup must not hide the test's own outcome
            print(f"warning: cleanup: {e}", file=sys.stderr)
    if _tmpdir:
        shutil.rmtree(_tmpdir, ignore_errors=True)


def main(test_name, body):
    """setup + body(tmpdir) + finish; an exception in body is a failure with its traceback."""
    tmp = setup(test_name)
    try:
        body(tmp)
    except SystemExit:
        raise
    except BaseException:
        import traceback
        traceback.print_exc()
        fail("the test raised an exception (traceback above)")
    finish()


# ---------------------------------------------------------------------------------------------
# Running commands


def clean_env(extra=None):
    """The caller's environment without preload, sockshim or proxy settings."""
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("SOCKSHIM_") or k == "LD_PRELOAD" or k.lower().endswith("_proxy") \
                or k.startswith("PYTHON"):
            del env[k]
    env["LC_ALL"] = "C"
    if extra:
        env.update(extra)
    return env


class Result:
    def __init__(self, rc, stdout, stderr, data, name, pid):
        self.rc = rc            # exit status (negative: killed by that signal, as subprocess says)
        self.stdout = stdout    # text
        self.stderr = stderr    # text
        self.data = data        # the --json-out document, or None when it was not written
        self.name = name        # the segment name
        self.pid = pid          # pid of the process started (sockshim itself for run_shim)

    def show(self):
        """Everything, for a failure's context."""
        print(f"--- exit {self.rc}; stdout:\n{self.stdout}--- stderr:\n{self.stderr}---")
        if self.data is not None:
            print("--- json:\n" + json.dumps(self.data, indent=1) + "\n---")


def run_plain(argv, timeout=20, env=None, input=None, cwd=None):
    """Runs argv with a bounded wait; on timeout the whole process group is killed."""
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env if env is not None else clean_env(), cwd=cwd or _tmpdir,
                            start_new_session=True)
    try:
        out, err = proc.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        fail(f"{' '.join(argv)}: did not end within {timeout} s (killed); stderr: {err.strip()}")
        return Result(None, out, err, None, None, proc.pid)
    return Result(proc.returncode, out, err, None, None, proc.pid)


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def new_segment_name():
    global _segment_counter
    _segment_counter += 1
    return f"it-{TEST}-{os.getpid()}-{_segment_counter}"


def segment_path(name):
    return f"/dev/shm/sockshim-{name}"


def remove_segment(name):
    try:
        os.unlink(segment_path(name))
    except FileNotFoundError:
        pass


def run_shim(cmd, rules=None, options=(), timeout=20, input=None, keep=False, name=None, env=None):
    """`sockshim run --name it-... --json-out F [-c RULES] [OPTIONS] -- CMD`.

    rules: a dict (written to a file) or a path. The segment is removed afterwards unless keep is
    set, in which case the caller must remove it (remove_segment is registered as a cleanup too).
    """
    name = name or new_segment_name()
    on_cleanup(lambda: remove_segment(name))
    json_out = os.path.join(_tmpdir, f"{name}.json")
    if os.path.exists(json_out):
        os.unlink(json_out)
    argv = [SOCKSHIM, "run", "--name", name, "--json-out", json_out]
    if rules is not None:
        if isinstance(rules, dict):
            path = os.path.join(_tmpdir, f"{name}.rules.json")
            with open(path, "w") as f:
                json.dump(rules, f, indent=1)
            rules = path
        argv += ["-c", rules]
    if keep:
        argv.append("--keep")
    argv += list(options) + ["--"] + list(cmd)
    r = run_plain(argv, timeout=timeout, input=input,
                  env=env if env is not None else clean_env({"SOCKSHIM_LIB": LIBSOCKSHIM}))
    if not keep:
        if os.path.exists(segment_path(name)):
            fail(f"sockshim run without --keep left {segment_path(name)} behind")
        remove_segment(name)
    data = None
    if os.path.exists(json_out):
        with open(json_out) as f:
            try:
                data = json.load(f)
            except json.JSONDecodeError as e:
                fail(f"{json_out}: not JSON: {e}")
    r.name = name
    r.data = data
    return r


def wait_file(path, timeout=20):
    """The number a helper program wrote into path (it renames the file into place when done),
    or None when none appeared within timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                return int(f.read())
        time.sleep(0.01)
    return None


def json_result(label, r):
    """The JSON document on the last line of r's stdout when r ended with status 0; else None,
    with a failure and r's output shown."""
    if r is None or r.rc != 0:
        fail(f"{label}: exit status {r.rc if r else None}, want 0")
        if r:
            r.show()
        return None
    return json.loads(r.stdout.strip().splitlines()[-1])


def python_prog(name, *args):
    """argv of a helper program in progs/, run by Debian's python3 in isolated mode."""
    return [PYTHON, "-I", os.path.join(PROGS, name)] + [str(a) for a in args]


# ---------------------------------------------------------------------------------------------
# Reading the JSON document


def sockets(data, family, type_, protocol):
    """The sockets[] entry of that cookie, or None."""
    for s in (data or {}).get("sockets", []):
        if (s.get("family"), s.get("type"), s.get("protocol")) == (family, type_, protocol):
            return s
    return None


def need_socket(data, family, type_, protocol):
    s = sockets(data, family, type_, protocol)
    if s is None:
        kinds = [(x.get("family"), x.get("type"), x.get("protocol"))
                 for x in (data or {}).get("sockets", [])]
        fail(f"no sockets entry for {family}/{type_}/{protocol}: got cookies {kinds}")
    return s


def expect_counters(what, entry, want):
    """want: {counter: value}; a value may be ('>', n) or ('>=', n)."""
    if entry is None:
        return
    for k, v in want.items():
        got = entry.get(k)
        if isinstance(v, tuple):
            op, bound = v
            (expect_gt if op == ">" else expect_ge)(f"{what} {k}", got, bound)
        else:
            expect(f"{what} {k}", got, v)


def rule(data, name):
    for r in (data or {}).get("rules", []):
        if r.get("name") == name:
            return r
    fail(f"no rules entry named {name!r}: got {(data or {}).get('rules')}")
    return None


def processes(data):
    return (data or {}).get("processes", [])


# ---------------------------------------------------------------------------------------------
# Ports and servers (all in this process, never under the shim)


def free_port(family=socket.AF_INET, type_=socket.SOCK_STREAM, host="127.0.0.1"):
    with socket.socket(family, type_) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def closed_port():
    """A loopback TCP port nothing listens on (bound, then released)."""
    return free_port()


class TcpServer:
    """A loopback TCP listener that accepts in a thread; each connection is read to EOF (or
    answered per `reply`: a function bytes -> bytes called on each chunk). Records what came in."""

    def __init__(self, reply=None, host="127.0.0.1", backlog=16):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(backlog)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.reply = reply
        self.received = []  # one bytes per connection, in accept order
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        self._main = threading.Thread(target=self._accept_loop, daemon=True)
        self._main.start()

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(c,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, c):
        c.settimeout(10)
        data = b""
        try:
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    break
                data += chunk
                if self.reply:
                    c.sendall(self.reply(chunk))
        except OSError:
            pass
        finally:
            c.close()
            with self.lock:
                self.received.append(data)

    def wait_connections(self, n, timeout=5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= n:
                    return True
            time.sleep(0.01)
        return False

    def close(self):
        self._stop.set()
        self._main.join(2)
        self.sock.close()
        for t in self._threads:
            t.join(2)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class UdpEchoServer:
    """A loopback UDP socket that echoes every datagram back, in a thread."""

    def __init__(self, host="127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()

    def _loop(self):
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            self.received.append(data)
            try:
                self.sock.sendto(data, peer)
            except OSError:
                pass

    def close(self):
        self._stop.set()
        self._t.join(2)
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class HttpServer:
    """`/usr/bin/python3 -m http.server --bind 127.0.0.1 PORT` serving DIR, started without the
    shim; start() returns once it answers a request. Always stop() it (a context manager)."""

    def __init__(self, directory):
        self.directory = directory
        self.proc = None
        self.port = None

    def start(self, timeout=10):
        for _attempt in range(3):  # the free port can be taken between probe and bind
            self.port = free_port()
            self.proc = subprocess.Popen(
                [PYTHON, "-I", "-m", "http.server", "--bind", "127.0.0.1", str(self.port)],
                cwd=self.directory, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, env=clean_env(), start_new_session=True)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                if self._answers():
                    return self
                time.sleep(0.05)
            self.stop()
        raise RuntimeError("python3 -m http.server did not start answering")

    def _answers(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.settimeout(2)
                s.sendall(b"HEAD / HTTP/1.0\r\n\r\n")
                return s.recv(16).startswith(b"HTTP/")
        except OSError:
            return False

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                _kill_group(self.proc)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
            self.proc = None

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def errno_name(code):
    return errno.errorcode.get(code, str(code)) if code else "OK"


def line_col(path, needle):
    """1-based line and column of the first occurrence of needle in the file."""
    with open(path) as f:
        text = f.read()
    i = text.index(needle)
    line = text.count("\n", 0, i) + 1
    col = i - (text.rfind("\n", 0, i) + 1) + 1
    return line, col


# ---------------------------------------------------------------------------------------------
# Seccomp mode (docs/shim.md, "Two ways in")


def need_seccomp(probe=("/bin/true",)):
    """Skip (77) unless `sockshim run --intercept seccomp` can start a program here."""
    r = run_plain([SOCKSHIM, "run", "--intercept", "seccomp", "--"] + list(probe), timeout=20)
    if r.rc == 3 and "seccomp" in r.stderr:
        skip("seccomp user notification unavailable: " + r.stderr.strip().splitlines()[-1])
    if r.rc != 0:
        fail(f"sockshim run --intercept seccomp -- {' '.join(probe)}: exit {r.rc}, stderr {r.stderr!r}")


def hello_site(tmp):
    """A directory for HttpServer whose / answers "hello\n"."""
    www = os.path.join(tmp, "www")
    os.makedirs(www, exist_ok=True)
    with open(os.path.join(www, "index.html"), "w") as f:
        f.write("hello\n")
    return www


def refuse_tcp_port(name, port):
    """A rule table with one rule NAME failing TCP connects to PORT with ECONNREFUSED."""
    return {"seed": 1, "rules": [{
        "name": name, "on": ["connect"],
        "match": {"family": "inet", "type": "stream", "protocol": "tcp", "port": port},
        "do": {"fail": "ECONNREFUSED"}}]}


def total_opened(data):
    """opened summed over every kind of socket."""
    return sum(s.get("opened", 0) for s in (data or {}).get("sockets", []))


def strace_sockets(argv, tmp, timeout=30):
    """(exit status, successful socket() calls) of argv under `strace -f -e trace=%net`: what
    the kernel saw, to hold seccomp mode's counts to. Skips without strace."""
    strace = need_program("strace", "strace")
    out = os.path.join(tmp, "strace.out")
    r = run_plain([strace, "-f", "-qq", "-e", "trace=%net", "-e", "status=successful", "-o", out] + list(argv),
                  timeout=timeout)
    with open(out) as f:
        text = f.read()
    calls = sum(1 for line in text.splitlines()
                if " socket(" in " " + line.split("] ", 1)[-1] or "<... socket resumed>" in line)
    return r.rc, calls
