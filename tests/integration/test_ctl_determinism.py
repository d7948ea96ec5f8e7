"""Runtime control and reproducibility:

(a) `sockshim ctl NAME disable RULE` mid-run: a python client whose connects are refused keeps
    trying; once the test disables the rule, its next connect passes. `ctl NAME list` shows the
    rule and its counters; an unknown rule is refused with a suggestion.
(b) "enabled": false: the rule starts off, and `ctl enable` turns it on mid-run.
(c) Determinism: the same seed gives the same faults run after run (probability 0.3 on 60
    socket() calls); another seed gives other faults; the events in the JSON list exactly the
    calls that failed.
"""
import json
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def ctl(name, *args):
    return h.run_plain([h.SOCKSHIM, "ctl", name] + list(args), timeout=10)


def lines(path):
    try:
        with open(path) as f:
            return f.read().split()
    except FileNotFoundError:
        return []


def start_shim(tmp, name, rules, argv):
    path = os.path.join(tmp, f"{name}.rules.json")
    with open(path, "w") as f:
        json.dump(rules, f)
    h.on_cleanup(lambda: h.remove_segment(name))
    env = h.clean_env({"SOCKSHIM_LIB": h.LIBSOCKSHIM})
    return subprocess.Popen([h.SOCKSHIM, "run", "--name", name, "-c", path, "--"] + argv,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)


def wait_for(pred, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


def switch_mid_run(tmp, what, rules, action, first, then):
    """Starts connect_until with rules, waits for 3 outcomes equal to `first`, runs ctl `action`,
    and checks that the outcomes switch to `then`."""
    with h.TcpServer() as srv:
        for r in rules["rules"]:
            r["match"] = {"port": srv.port}
        name = h.new_segment_name()
        flag = os.path.join(tmp, f"{name}.outcomes")
        limit = 400
        proc = start_shim(tmp, name, rules, h.python_prog(
            "fault_probe.py", "connect_until", "127.0.0.1", srv.port, flag, limit,
            "OK" if then == "OK" else "FAIL"))
        try:
            ok = wait_for(lambda: len(lines(flag)) >= 3)
            h.check(ok, f"{what}: the client made no 3 attempts in time: {lines(flag)}")
            listed = ctl(name, "list")
            h.expect(f"{what}: ctl list exit", listed.rc, 0)
            h.check(rules["rules"][0]["name"] in listed.stdout, f"{what}: ctl list: {listed.stdout!r}")
            bad = ctl(name, action, rules["rules"][0]["name"] + "x")
            h.expect(f"{what}: ctl with an unknown rule: exit", bad.rc, 1)
            h.check("did you mean" in bad.stderr, f"{what}: ctl unknown rule message: {bad.stderr!r}")
            r = ctl(name, action, rules["rules"][0]["name"])
            h.expect(f"{what}: ctl {action} exit", r.rc, 0)
            out, err = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        h.expect(f"{what}: sockshim run exit", proc.returncode, 0)
        got = json.loads(out or "{}").get("outcomes", [])
        h.check(len(got) >= 4 and all(o == first for o in got[:3]),
                f"{what}: outcomes before ctl: {got[:5]}, want {first} x3")
        h.check(len(got) < limit and got[-1] == then, f"{what}: last outcome {got[-1:]} want {then}")


def pattern(seed):
    rules = {"seed": seed, "rules": [{"name": "coin", "on": ["socket"], "match": {"type": "dgram"},
                                      "when": {"probability": 0.3}, "do": {"fail": "EMFILE"}}]}
    r = h.run_shim(h.python_prog("fault_probe.py", "sockets", 60), rules=rules)
    h.expect(f"seed {seed}: exit", r.rc, 0)
    p = json.loads(r.stdout or "{}").get("pattern", "")
    events = (r.data or {}).get("events", [])
    h.expect(f"seed {seed}: events logged", len(events), p.count("F"))
    h.expect(f"seed {seed}: event hits", [e.get("hit") for e in events],
             [i + 1 for i, c in enumerate(p) if c == "F"])
    return p


def body(tmp):
    switch_mid_run(tmp, "disable mid-run",
                   {"rules": [{"name": "partition", "on": ["connect"], "do": {"fail": "ECONNREFUSED"}}]},
                   "disable", "ECONNREFUSED", "OK")
    switch_mid_run(tmp, "enable mid-run",
                   {"rules": [{"name": "late", "enabled": False, "on": ["connect"],
                               "do": {"fail": "ENETUNREACH"}}]},
                   "enable", "OK", "ENETUNREACH")
    a, b, c = pattern(7), pattern(7), pattern(8)
    h.expect("same seed, same faults", a, b)
    h.check(a != c, f"another seed gave the same faults: {a}")
    h.check(0 < a.count("F") < 60, f"probability 0.3 over 60 calls: {a}")


h.main("ctl_determinism", body)
