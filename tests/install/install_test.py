"""`meson install` into a DESTDIR under a temp dir, then the installed copy at work outside the
build tree, and the embedder's contract: two programs built against the installed .pc files.

(a) Every file the install promises is there (commands, preload object in libdir/sockshim/,
    archives, headers, .pc files, schema, examples, man pages, completions), and bindir holds
    the two commands only.
(b) The installed `sockshim run` finds its preload object from its own location (no
    SOCKSHIM_LIB), counts a python client, injects the installed refuse-connect.json profile
    (--expect-fired passes); without the object it fails naming what it tried; --preload works.
(c) docs/examples/embedding/*.cc compile with `pkg-config --cflags --libs` of the installed
    sockshim-bpfvm / sockshim-netstack (PKG_CONFIG_SYSROOT_DIR = the DESTDIR) and run.

usage: install_test.py MESON BUILD_DIR SOURCE_ROOT CXX DIRS_JSON; exit 0 / 1 / 77."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

meson, build, source, cxx, dirs = sys.argv[1:6]
dirs = json.loads(dirs)   # prefix, bindir, libdir, includedir, datadir, mandir (as configured)
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def run(argv, **kw):
    kw.setdefault("timeout", 120)
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def under(root, d):
    """root + the absolute install dir d (relative dirs are under the prefix)."""
    path = d if os.path.isabs(d) else os.path.join(dirs["prefix"], d)
    return os.path.join(root, path.lstrip("/"))


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SOCKSHIM_") and k != "LD_PRELOAD" and not k.startswith("PKG_CONFIG")}
    env.update(extra)
    return env


# A client that listens on a loopback port, connects to it, and prints the outcome and the
# preload object it was given (so the test sees which one sockshim found).
CLIENT = """
import errno, os, socket
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
c = socket.socket()
try:
    c.connect(srv.getsockname()); print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])
print(os.environ.get("LD_PRELOAD", ""))
"""


def check_files(root):
    bindir, libdir = under(root, dirs["bindir"]), under(root, dirs["libdir"])
    inc, data, man = under(root, dirs["includedir"]), under(root, dirs["datadir"]), under(root, dirs["mandir"])
    want = [
        os.path.join(bindir, "sockshim"), os.path.join(bindir, "bpfvm"),
        os.path.join(libdir, "sockshim", "libsockshim.so"),
        os.path.join(libdir, "sockshim", "libsockshim-rules.so"),
        os.path.join(libdir, "libsockshim-bpfvm.a"), os.path.join(libdir, "libsockshim-netstack.a"),
        os.path.join(libdir, "pkgconfig", "sockshim-bpfvm.pc"),
        os.path.join(libdir, "pkgconfig", "sockshim-netstack.pc"),
        os.path.join(inc, "sockshim", "bpfvm", "validator.h"),
        os.path.join(inc, "sockshim", "bpfvm", "asm", "text.h"),
        os.path.join(inc, "sockshim", "netstack", "stack", "stack.h"),
        os.path.join(inc, "sockshim", "netstack", "transport", "tcp", "endpoint.h"),
        os.path.join(data, "sockshim", "filters.schema.json"),
        os.path.join(data, "sockshim", "examples", "refuse-connect.json"),
        os.path.join(data, "bash-completion", "completions", "sockshim"),
        os.path.join(data, "bash-completion", "completions", "bpfvm"),
        os.path.join(man, "man1", "sockshim.1"), os.path.join(man, "man5", "sockshim-rules.5"),
        os.path.join(man, "man1", "bpfvm.1"),
    ]
    for f in want:
        if not os.path.isfile(f):
            fail(f"not installed: {os.path.relpath(f, root)}")
    if os.path.isdir(bindir) and sorted(os.listdir(bindir)) != ["bpfvm", "sockshim"]:
        fail(f"bindir holds {sorted(os.listdir(bindir))}, want only bpfvm and sockshim")
    page = os.path.join(man, "man1", "sockshim.1")
    if os.path.isfile(page) and "@" in open(page).read().replace("\\@", ""):
        fail(f"{page}: an @VARIABLE@ was not substituted")


def check_run(root, tmp):
    sockshim = os.path.join(under(root, dirs["bindir"]), "sockshim")
    lib = os.path.join(under(root, dirs["libdir"]), "sockshim", "libsockshim.so")
    r = run([sockshim, "--version"], cwd=tmp, env=clean_env())
    if r.returncode != 0 or not r.stdout.startswith("sockshim "):
        fail(f"installed sockshim --version: exit {r.returncode}, {r.stdout!r} {r.stderr!r}")
    py = shutil.which("python3") or "/usr/bin/python3"
    r = run([sockshim, "run", "--summary", "--", py, "-c", CLIENT], cwd=tmp, env=clean_env())
    lines = r.stdout.splitlines()
    if r.returncode != 0 or lines[:1] != ["OK"]:
        fail(f"installed sockshim run: exit {r.returncode}, stdout {r.stdout!r}, stderr {r.stderr!r}")
    elif os.path.realpath(lines[1].split(" ")[0]) != os.path.realpath(lib):
        fail(f"installed sockshim preloaded {lines[1]!r}, want the installed {lib}")
    if "opened=2" not in r.stderr:
        fail(f"installed sockshim run --summary did not count two sockets: {r.stderr!r}")

    rules = os.path.join(under(root, dirs["datadir"]), "sockshim", "examples", "refuse-connect.json")
    r = run([sockshim, "run", "-c", rules, "--expect-fired", "refuse-http", "--", py, "-c", CLIENT],
            cwd=tmp, env=clean_env())
    if r.returncode != 0 or r.stdout.splitlines()[:1] != ["ECONNREFUSED"]:
        fail(f"installed profile refuse-connect.json: exit {r.returncode}, stdout {r.stdout!r}, "
             f"stderr {r.stderr!r}")

    # The preload object alone, as a user would preload it: it parses the rule file with the rule
    # loader installed next to it (opened on demand).
    r = run([py, "-c", CLIENT], cwd=tmp, env=dict(clean_env(), LD_PRELOAD=lib, SOCKSHIM_RULES=rules))
    if r.returncode != 0 or r.stdout.splitlines()[:1] != ["ECONNREFUSED"]:
        fail(f"installed libsockshim.so with SOCKSHIM_RULES: exit {r.returncode}, stdout {r.stdout!r}, "
             f"stderr {r.stderr!r}")

    moved = lib + ".moved"
    os.rename(lib, moved)
    try:
        r = run([sockshim, "run", "--", py, "-c", "pass"], cwd=tmp, env=clean_env())
        if r.returncode != 2 or lib not in r.stderr or "--preload" not in r.stderr:
            fail(f"without the preload object: exit {r.returncode} (want 2), stderr {r.stderr!r} "
                 f"(want the path tried and --preload)")
        r = run([sockshim, "run", "--preload", moved, "--", py, "-c", CLIENT], cwd=tmp, env=clean_env())
        if r.returncode != 0 or os.path.realpath(r.stdout.splitlines()[1]) != os.path.realpath(moved):
            fail(f"--preload {moved}: exit {r.returncode}, stdout {r.stdout!r}, stderr {r.stderr!r}")
    finally:
        os.rename(moved, lib)


def check_embedders(root, tmp):
    pkg_config = shutil.which("pkg-config")
    if not pkg_config:
        fail("pkg-config not found (scripts/setup.sh installs it)")
        return
    env = clean_env(PKG_CONFIG_PATH=os.path.join(under(root, dirs["libdir"]), "pkgconfig"),
                    PKG_CONFIG_SYSROOT_DIR=root)
    for example, pc in (("bpfvm_filter", "sockshim-bpfvm"), ("netstack_udp", "sockshim-netstack")):
        flags = run([pkg_config, "--cflags", "--libs", pc], env=env)
        if flags.returncode != 0:
            fail(f"pkg-config {pc}: {flags.stderr.strip()}")
            continue
        src = os.path.join(source, "docs", "examples", "embedding", example + ".cc")
        exe = os.path.join(tmp, example)
        c = run([cxx, "-std=c++20", "-o", exe, src] + flags.stdout.split(), env=env, cwd=tmp,
                timeout=600)
        if c.returncode != 0:
            fail(f"{example}.cc against {pc}.pc does not build:\n{c.stderr}")
            continue
        r = run([exe], cwd=tmp, env=clean_env())
        print(r.stdout, end="")
        if r.returncode != 0:
            fail(f"{example}: exit {r.returncode}: {r.stdout!r} {r.stderr!r}")


def main():
    tmp = tempfile.mkdtemp(prefix="sockshim-install-")
    try:
        root = os.path.join(tmp, "destdir")
        r = run([meson, "install", "-C", build, "--no-rebuild", "--quiet", "--destdir", root],
                timeout=300)
        if r.returncode != 0:
            fail(f"meson install --destdir: exit {r.returncode}: {r.stdout}{r.stderr}")
        else:
            check_files(root)
            check_run(root, tmp)
            check_embedders(root, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{len(failures)} check(s) failed" if failures else "install: all checks passed")
    sys.exit(1 if failures else 0)


main()
