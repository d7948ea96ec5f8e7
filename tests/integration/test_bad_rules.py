"""Scenario 10: a bad rule file is refused with one precise line, never silently ignored.

For each broken file:
  `sockshim run -c BAD -- /bin/echo MAIN-RAN`   exits 2, runs nothing, and prints
      "sockshim: FILE:LINE:COL: KEY: message"  (LINE:COL = where the offending token starts);
  `sockshim check BAD`                          exits 2 with the same line;
  `LD_PRELOAD=libsockshim.so SOCKSHIM_RULES=BAD /bin/echo MAIN-RAN`  exits 2 with the same
      single line before main runs (nothing on stdout).
And the preload object without its rule loader beside it (libsockshim-rules.so, which parses
rule files for it) refuses to run a program with SOCKSHIM_RULES, naming the loader, while a
program without rules still runs.
"""
import os
import re
import shutil
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

# (file name, text, token whose first character the error points at, key path or None, a
# fragment of the message)
CASES = [
    ("unknown-key.json",
     '{"seed": 1,\n "rules": [{"name": "x", "on": ["connect"],\n'
     '            "do": {"fial": "ECONNREFUSED"}}]}\n',
     '"fial"', "rules[0].do.fial", 'unknown key "fial"'),
    ("unknown-errno.json",
     '{"seed": 1,\n "rules": [{"name": "x", "on": ["connect"],\n'
     '   "do": {"fail": "ECONNREFUZED"}}]}\n',
     '"ECONNREFUZED"', "rules[0].do.fail", "ECONNREFUZED"),
    ("unknown-call.json",
     '{"seed": 1,\n "rules": [{"name": "x", "on": ["conect"],\n'
     '   "do": {"fail": "ECONNREFUSED"}}]}\n',
     '"conect"', "rules[0].on[0]", '"conect"'),
    ("bad-port.json",
     '{"seed": 1,\n "rules": [{"name": "x", "on": ["connect"],\n'
     '   "match": {"port": "http"},\n   "do": {"fail": "ECONNREFUSED"}}]}\n',
     '"http"', "rules[0].match.port", '"http"'),
    ("bad-nth.json",
     '{"seed": 1,\n "rules": [{"name": "x", "on": ["connect"],\n'
     '   "when": {"nth": -2},\n   "do": {"fail": "ECONNREFUSED"}}]}\n',
     "-2", "rules[0].when.nth", "-2"),
    ("inbound-loss-percent.json",
     '{"seed": 1,\n "rules": [{"name": "lossy", "on": ["bind"],\n'
     '   "match": {"protocol": "udp"},\n   "do": {"inbound_loss": 20}}]}\n',
     "20", "rules[0].do.inbound_loss", 'rule "lossy": must be greater than 0 and at most 1'),
    ("inbound-loss-unix.json",
     '{"seed": 1,\n "rules": [{"name": "lossy", "on": ["connect"],\n'
     '   "match": {"family": "unix"},\n   "do": {"inbound_loss": 0.2}}]}\n',
     "0.2", "rules[0].do.inbound_loss", "its match has family unix"),
    ("syntax.json",
     '{"seed": 1,\n "rules": [{"name": "x", "on": ["connect"],\n'
     '   "do": {"fail": "ECONNREFUSED"},}]}\n',
     ",}", None, "syntax error"),
]


def body(tmp):
    for fname, text, token, key, fragment in CASES:
        path = os.path.join(tmp, fname)
        with open(path, "w") as f:
            f.write(text)
        line, col = h.line_col(path, token)
        if token == ",}":
            col += 1  # the error is at the '}' that follows the trailing comma
        what = fname
        bad = len(h._failures)

        r = h.run_shim(["/bin/echo", "MAIN-RAN"], rules=path)
        h.expect(f"{what}: sockshim run exit status", r.rc, 2)
        h.expect(f"{what}: sockshim run: the command's output (it must not run)", r.stdout, "")
        lines = r.stderr.splitlines()
        if not h.expect(f"{what}: sockshim run: number of stderr lines", len(lines), 1):
            r.show()
            continue
        msg = lines[0]
        m = re.match(r"^sockshim: (.*):(\d+):(\d+): (.*)$", msg)
        if not h.check(m, f"{what}: stderr: got {msg!r}, want 'sockshim: FILE:LINE:COL: ...'"):
            continue
        h.expect(f"{what}: FILE", m.group(1), path)
        h.expect(f"{what}: LINE:COL", (int(m.group(2)), int(m.group(3))), (line, col))
        rest = m.group(4)
        if key:
            h.check(rest.startswith(key + ": "),
                    f"{what}: message: got {rest!r}, want it to start with the key {key + ': '!r}")
        h.check(fragment in rest, f"{what}: message: got {rest!r}, want it to contain {fragment!r}")
        h.expect(f"{what}: segment left by the refused run", os.path.exists(h.segment_path(r.name)),
                 False)

        c = h.run_plain([h.SOCKSHIM, "check", path])
        h.expect(f"{what}: sockshim check exit status", c.rc, 2)
        h.expect(f"{what}: sockshim check stderr", c.stderr, msg + "\n")

        env = h.clean_env({"LD_PRELOAD": h.LIBSOCKSHIM, "SOCKSHIM_RULES": path})
        p = h.run_plain(["/bin/echo", "MAIN-RAN"], env=env)
        h.expect(f"{what}: preloaded with SOCKSHIM_RULES: exit status", p.rc, 2)
        h.expect(f"{what}: preloaded with SOCKSHIM_RULES: stdout (main must not run)", p.stdout, "")
        h.expect(f"{what}: preloaded with SOCKSHIM_RULES: stderr", p.stderr, msg + "\n")
        if len(h._failures) > bad:
            for x in (r, c, p):
                x.show()

    # A rules file that does not exist: same treatment, no line and column.
    missing = os.path.join(tmp, "no-such-rules.json")
    r = h.run_shim(["/bin/echo", "MAIN-RAN"], rules=missing)
    h.expect("missing file: sockshim run exit status", r.rc, 2)
    h.expect("missing file: sockshim run stdout", r.stdout, "")
    h.check(r.stderr.startswith(f"sockshim: {missing}: ") and len(r.stderr.splitlines()) == 1,
            f"missing file: stderr: got {r.stderr!r}, want one line 'sockshim: {missing}: ...'")
    env = h.clean_env({"LD_PRELOAD": h.LIBSOCKSHIM, "SOCKSHIM_RULES": missing})
    p = h.run_plain(["/bin/echo", "MAIN-RAN"], env=env)
    h.expect("missing file: preloaded: exit status", p.rc, 2)
    h.expect("missing file: preloaded: stdout", p.stdout, "")
    h.expect("missing file: preloaded: stderr", p.stderr, r.stderr)

    # The preload object copied alone: no rule loader beside it.
    alone = os.path.join(tmp, "alone")
    os.mkdir(alone)
    lib = os.path.join(alone, "libsockshim.so")
    shutil.copy(h.LIBSOCKSHIM, lib)
    good = os.path.join(tmp, "good.json")
    with open(good, "w") as f:
        f.write('{"rules": [{"name": "x", "on": ["connect"], "do": {"fail": "ECONNREFUSED"}}]}\n')
    p = h.run_plain(["/bin/echo", "MAIN-RAN"], env=h.clean_env({"LD_PRELOAD": lib, "SOCKSHIM_RULES": good}))
    h.expect("no rule loader: exit status", p.rc, 2)
    h.expect("no rule loader: stdout (main must not run)", p.stdout, "")
    h.check(p.stderr.startswith("sockshim: cannot load the rule loader: ") and "libsockshim-rules.so" in p.stderr
            and len(p.stderr.splitlines()) == 1,
            f"no rule loader: stderr: got {p.stderr!r}, want one line naming libsockshim-rules.so")
    p = h.run_plain(["/bin/echo", "MAIN-RAN"], env=h.clean_env({"LD_PRELOAD": lib}))
    h.expect("no rule loader, no rules: exit status", p.rc, 0)
    h.expect("no rule loader, no rules: stdout", p.stdout, "MAIN-RAN\n")


h.main("bad_rules", body)
