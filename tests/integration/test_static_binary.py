"""Scenario 9: a statically linked program cannot load the shim.

Debian's ldconfig is static-pie. `sockshim run --intercept preload -- /sbin/ldconfig -p` exits 3 and says on stderr
that the program is statically linked; the JSON has no process and no sockets. With
--allow-unattached, `sockshim run` exits with the program's own status (0 for -p; ldconfig's 64
for an unknown option, the same as when run plainly). Also found through PATH by bare name.
Without --intercept (auto), the same program runs in seccomp mode instead (issue 16): exit 0, and
the JSON says which mode and why.
"""
import os
import struct
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

# (program, arguments that succeed without side effects)
CANDIDATES = [
    ("/sbin/ldconfig", ["-p"]),
    ("/usr/sbin/ldconfig", ["-p"]),
    ("/bin/busybox", ["true"]),
    ("/usr/bin/busybox", ["true"]),
]
PT_INTERP = 3
PRELOAD = ["--intercept", "preload"]   # auto would choose seccomp mode for a static binary


def is_static_elf(path):
    """An ELF executable without a PT_INTERP program header (static or static-pie)."""
    try:
        with open(path, "rb") as f:
            hdr = f.read(64)
            if len(hdr) < 64 or hdr[:4] != b"\x7fELF" or hdr[4] != 2 or hdr[5] != 1:
                return False  # only 64-bit little-endian is checked here
            e_phoff, = struct.unpack_from("<Q", hdr, 0x20)
            e_phentsize, e_phnum = struct.unpack_from("<HH", hdr, 0x36)
            f.seek(e_phoff)
            ph = f.read(e_phentsize * e_phnum)
            for i in range(e_phnum):
                p_type, = struct.unpack_from("<I", ph, i * e_phentsize)
                if p_type == PT_INTERP:
                    return False
            return True
    except OSError:
        return False


def body(tmp):
    found = None
    for prog, args in CANDIDATES:
        if os.access(prog, os.X_OK) and is_static_elf(os.path.realpath(prog)):
            found = (prog, args)
            break
    if not found:
        h.skip("no statically linked program found (" +
               ", ".join(p for p, _ in CANDIDATES) + "; Debian's ldconfig is one)")
    prog, args = found

    plain = h.run_plain([prog] + args)
    h.expect(f"{prog} {' '.join(args)} run plainly: exit status", plain.rc, 0)

    r = h.run_shim([prog] + args, options=PRELOAD)
    h.expect("sockshim run (static binary): exit status", r.rc, 3)
    h.check("statically linked" in r.stderr,
            f"sockshim run (static binary): stderr: got {r.stderr!r}, want it to say "
            f"'statically linked'")
    h.check(r.stderr.startswith("sockshim: "),
            f"sockshim run (static binary): stderr starts with 'sockshim: ': got {r.stderr!r}")
    h.expect("sockshim run (static binary): program's output passed through", r.stdout,
             plain.stdout)
    if h.check(r.data is not None, "sockshim run (static binary): no JSON document"):
        h.expect("static binary: processes", h.processes(r.data), [])
        h.expect("static binary: sockets", r.data.get("sockets"), [])

    a = h.run_shim([prog] + args, options=PRELOAD + ["--allow-unattached"])
    h.expect("sockshim run --allow-unattached: exit status (the program's)", a.rc, 0)
    h.check("statically linked" in a.stderr,
            f"sockshim run --allow-unattached: stderr still warns: got {a.stderr!r}")

    # A non-zero status of the program itself passes through with --allow-unattached.
    bad_plain = h.run_plain([prog, "--no-such-option-sockshim"])
    h.check(bad_plain.rc not in (0, 3, None),
            f"{prog} --no-such-option-sockshim: got exit {bad_plain.rc}, want a distinct failure")
    b = h.run_shim([prog, "--no-such-option-sockshim"], options=PRELOAD + ["--allow-unattached"])
    h.expect("sockshim run --allow-unattached (failing program): exit status", b.rc,
             bad_plain.rc)
    b3 = h.run_shim([prog, "--no-such-option-sockshim"], options=PRELOAD)
    h.expect("sockshim run (failing static program, no --allow-unattached): exit status",
             b3.rc, 3)

    # Found through PATH by its bare name.
    env = h.clean_env({"SOCKSHIM_LIB": h.LIBSOCKSHIM,
                       "PATH": os.path.dirname(prog) + ":" + os.environ.get("PATH", "/usr/bin")})
    p = h.run_shim([os.path.basename(prog)] + args, env=env, options=PRELOAD)
    h.expect(f"sockshim run -- {os.path.basename(prog)} (through PATH): exit status", p.rc, 3)
    h.check("statically linked" in p.stderr,
            f"sockshim run -- {os.path.basename(prog)} (through PATH): stderr: got {p.stderr!r}")
    # auto: seccomp mode reaches it (skipped where seccomp user notification is unavailable).
    auto = h.run_shim([prog] + args)
    if auto.rc == 3 and "seccomp" in auto.stderr:
        print("note: seccomp mode unavailable here: " + auto.stderr.strip())
    else:
        h.expect("sockshim run (auto, static binary): exit status", auto.rc, 0)
        h.expect("sockshim run (auto, static binary): output", auto.stdout, plain.stdout)
        if h.check(auto.data is not None, "sockshim run (auto): no JSON document"):
            h.expect("auto: intercept mode", auto.data.get("intercept", {}).get("mode"), "seccomp")
            h.check("statically linked" in auto.data.get("intercept", {}).get("why", ""),
                    f"auto: the reason names the static binary: got {auto.data.get('intercept')}")
            h.expect("auto: process records", len(h.processes(auto.data)), 1)
    if h._failures:
        for x in (r, a, b, b3, p, auto):
            x.show()


h.main("static_binary", body)
