"""Issue 18, silent no-ops: each case here once let a chaos run inject nothing and pass, or
count what never happened. Every case must fail loudly or work.

- a hard RLIMIT_NOFILE below 1024 (1023, 64) still gets its faults and counts;
- a segment carries its rule table: a process told to use another table or seed refuses to join
  (exit 2); one given the same table by another path joins; a rule file edited during the run
  changes nothing for processes started later; a relative SOCKSHIM_RULES survives a chdir;
- a name in use by a running `sockshim run` is refused; nested runs each report their own;
- `-c <(cat rules)` and `-c /dev/stdin` are read once and reach every process;
- SOCKSHIM_SEED reads as `--seed` does, SOCKSHIM_DEBUG=false means off, bad values exit 2;
- socket calls of an NSS module inside getaddrinfo pass uncounted and unfaulted (root: needs a
  private mount namespace for /etc/nsswitch.conf; skipped otherwise).
"""
import json
import os
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def refuse_rules(port, enabled=True):
    return {"seed": 1, "rules": [{"name": "refuse", "on": ["connect"], "enabled": enabled,
                                  "match": {"port": port}, "do": {"fail": "ECONNREFUSED"}}]}


def write_rules(tmp, name, rules):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        json.dump(rules, f)
    return path


def outcomes(r):
    """The JSON lists connect_n.py printed, one per line."""
    out = []
    for line in r.stdout.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def preload_env(name=None, rules=None, extra=None):
    env = h.clean_env({"LD_PRELOAD": h.LIBSOCKSHIM})
    if name:
        env["SOCKSHIM_STATS"] = name
    if rules:
        env["SOCKSHIM_RULES"] = rules
    env.update(extra or {})
    return env


def stats_json(name):
    r = h.run_plain([h.SOCKSHIM, "stats", name, "--json"])
    if r.rc != 0:
        h.fail(f"sockshim stats {name}: exit {r.rc}: {r.stderr.strip()}")
        return None
    return json.loads(r.stdout)


def low_fd_limit(tmp, srv):
    rules = write_rules(tmp, "refuse.json", refuse_rules(srv.port))
    for limit in (1023, 64):
        name = h.new_segment_name()
        h.on_cleanup(lambda n=name: h.remove_segment(n))
        out = os.path.join(tmp, f"{name}.json")
        connect = " ".join(h.python_prog("connect_n.py", "127.0.0.1", srv.port, 1))
        r = h.run_plain(["sh", "-c", f"ulimit -n {limit} && exec {h.SOCKSHIM} run --name {name} "
                         f"--json-out {out} -c {rules} -- {connect}"],
                        env=h.clean_env({"SOCKSHIM_LIB": h.LIBSOCKSHIM}))
        h.expect(f"ulimit -n {limit}: connect outcome", outcomes(r), [["ECONNREFUSED"]])
        with open(out) as f:
            data = json.load(f)
        h.expect(f"ulimit -n {limit}: rule fired", h.rule(data, "refuse").get("fired"), 1)
        tcp = h.need_socket(data, "inet", "stream", "tcp")
        h.expect_counters(f"ulimit -n {limit}: inet/stream/tcp", tcp,
                          {"opened": 1, "closed": 1, "connect_failed": 1, "faults_injected": 1})


def segment_identity(tmp, srv):
    connect = h.python_prog("connect_n.py", "127.0.0.1", srv.port, 1)
    off = write_rules(tmp, "off.json", refuse_rules(srv.port, enabled=False))
    refuse = write_rules(tmp, "refuse2.json", refuse_rules(srv.port))
    name = h.new_segment_name()
    h.on_cleanup(lambda: h.remove_segment(name))
    r = h.run_plain(connect, env=preload_env(name, off))
    h.expect("first process (rule disabled): outcome", outcomes(r), [["OK"]])
    r = h.run_plain(connect, env=preload_env(name, refuse))
    h.expect("another rule table on the same segment: exit status", r.rc, 2)
    h.check("differs from the rule table" in r.stderr,
            f"the refusal names the reason: got stderr {r.stderr.strip()!r}")
    h.expect("another rule table: nothing ran", outcomes(r), [])
    same = os.path.join(tmp, "copy-of-off.json")
    shutil.copy(off, same)
    r = h.run_plain(connect, env=preload_env(name, same))
    h.expect("the same table by another path joins: exit status", r.rc, 0)
    r = h.run_plain(connect, env=preload_env(name, off, {"SOCKSHIM_SEED": "99"}))
    h.expect("another seed on the same segment: exit status", r.rc, 2)
    data = stats_json(name)
    if data:
        h.expect("the segment still names its own table", data.get("rules_file"), off)
        h.expect("connects counted (2 processes joined)",
                 h.need_socket(data, "inet", "stream", "tcp").get("connected"), 2)

    # Edited during the run: the second process still runs with what the run validated.
    rules = write_rules(tmp, "edited.json", refuse_rules(srv.port))
    # The edit makes the rule match another port: read again, the file would let the connect pass.
    script = (f"{' '.join(connect)}; echo '{json.dumps(refuse_rules(srv.port + 1))}' > {rules}; "
              f"{' '.join(connect)}")
    r = h.run_shim(["sh", "-c", script], rules=rules)
    h.expect("rule file edited mid-run: outcomes", outcomes(r), [["ECONNREFUSED"], ["ECONNREFUSED"]])
    h.expect("rule file edited mid-run: fired", h.rule(r.data, "refuse").get("fired"), 2)

    # A relative SOCKSHIM_RULES and a chdir before the next process starts.
    name = h.new_segment_name()
    h.on_cleanup(lambda: h.remove_segment(name))
    write_rules(tmp, "relative.json", refuse_rules(srv.port))
    r = h.run_plain(["sh", "-c", f"cd / && {' '.join(connect)}"],
                    env=preload_env(name, "relative.json"), cwd=tmp)
    h.expect("relative SOCKSHIM_RULES after chdir: exit status", r.rc, 0)
    h.expect("relative SOCKSHIM_RULES after chdir: outcome", outcomes(r), [["ECONNREFUSED"]])


def compiled_table(tmp, srv):
    """Processes of a run match with the table compiled into the segment; one that cannot use it
    (damaged, or from another build) says so and parses the segment's text instead."""
    connect = h.python_prog("connect_n.py", "127.0.0.1", srv.port, 1)
    rules = write_rules(tmp, "compiled.json", refuse_rules(srv.port))
    name = h.new_segment_name()
    h.on_cleanup(lambda: h.remove_segment(name))
    r = h.run_plain(connect, env=preload_env(name, rules))
    h.expect("creator: outcome", outcomes(r), [["ECONNREFUSED"]])
    # The file goes away: a joiner needs nothing but the segment.
    os.unlink(rules)
    r = h.run_plain(connect, env=preload_env(name))
    h.expect("joiner with the compiled table: outcome", outcomes(r), [["ECONNREFUSED"]])
    h.expect("joiner with the compiled table: nothing said", r.stderr.strip(), "")
    # Damage the compiled table's header (it starts on a page boundary with its magic).
    path = h.segment_path(name)
    with open(path, "r+b") as f:
        data = f.read()
        at = next((o for o in range(0, len(data), 4096) if data[o:o + 8] == b"sktable\0"), None)
        h.check(at is not None, "the segment holds a compiled table")
        if at is None:
            return
        f.seek(at)
        f.write(b"XXXXXXXX")
    r = h.run_plain(connect, env=preload_env(name))
    h.expect("joiner with a damaged compiled table: outcome (from the text)", outcomes(r), [["ECONNREFUSED"]])
    h.check("compiled rule table is unusable (not a compiled rule table)" in r.stderr,
            f"it says why it parsed the text: got stderr {r.stderr.strip()!r}")
    data = stats_json(name)
    if data:
        h.expect("three processes counted under the one rule", h.rule(data, "refuse").get("fired"), 3)


def early_calls(tmp):
    """Socket calls from a library constructor that runs before the shim's own: they reach the
    real functions (resolved on the spot) and the program runs; in the other order they count."""
    module = os.environ.get("EARLY_TEST_MODULE")
    if not module:
        h.fail("EARLY_TEST_MODULE is not set")
        return
    for order, counted in (([h.LIBSOCKSHIM, module], 0), ([module, h.LIBSOCKSHIM], 1)):
        name = h.new_segment_name()
        h.on_cleanup(lambda n=name: h.remove_segment(n))
        env = h.clean_env({"LD_PRELOAD": " ".join(order), "SOCKSHIM_STATS": name})
        r = h.run_plain(["true"], env=env)
        label = "shim first" if order[0] == h.LIBSOCKSHIM else "shim second"
        h.expect(f"early calls ({label}): exit status", r.rc, 0)
        h.check("early constructor: socket ok, close ok" in r.stderr,
                f"early calls ({label}): the calls worked: stderr {r.stderr.strip()!r}")
        data = stats_json(name)
        tcp = h.sockets(data, "inet", "stream", "tcp") or {}
        h.expect(f"early calls ({label}): sockets counted", tcp.get("opened", 0), counted)


def names_in_use(tmp, srv):
    name = h.new_segment_name()
    h.on_cleanup(lambda: h.remove_segment(name))
    first = subprocess.Popen([h.SOCKSHIM, "run", "--name", name, "--", "sleep", "3"],
                             env=h.clean_env({"SOCKSHIM_LIB": h.LIBSOCKSHIM}),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
    h.on_cleanup(lambda: h._kill_group(first))
    for _ in range(200):
        if os.path.exists(h.segment_path(name)):
            break
        time.sleep(0.01)
    second = h.run_plain([h.SOCKSHIM, "run", "--name", name, "--", "true"],
                         env=h.clean_env({"SOCKSHIM_LIB": h.LIBSOCKSHIM}))
    h.expect("a second run with a name in use: exit status", second.rc, 2)
    h.check("in use" in second.stderr, f"it says the name is in use: got {second.stderr.strip()!r}")
    _, err = first.communicate(timeout=20)
    h.expect("the first run is undisturbed: exit status", first.returncode, 0)

    # Nested: the inner run must not take the outer run's segment.
    connect = h.python_prog("connect_n.py", "127.0.0.1", srv.port, 1)
    r = h.run_shim([h.SOCKSHIM, "run", "--summary", "--"] + connect)
    h.expect("nested run: exit status", r.rc, 0)
    h.expect("nested run: outcome", outcomes(r), [["OK"]])
    h.check("connected=1" in r.stderr, f"the inner run reports the connect: got {r.stderr.strip()!r}")
    # The inner run and its fork before exec; the python it then runs is the inner run's.
    names = sorted(set(p.get("argv0") for p in h.processes(r.data)))
    h.expect("the outer run's processes (by argv0)", names, ["sockshim"])


def rules_from_pipes(tmp, srv):
    rules = write_rules(tmp, "piped.json", refuse_rules(srv.port))
    connect = " ".join(h.python_prog("connect_n.py", "127.0.0.1", srv.port, 1))
    for how, cmd, stdin in (
            ("-c <(cat rules)", f"exec {h.SOCKSHIM} run -c <(cat {rules}) -- sh -c '{connect}; {connect}'", None),
            ("-c /dev/stdin", f"exec {h.SOCKSHIM} run -c /dev/stdin -- sh -c '{connect}; {connect}'",
             open(rules).read())):
        r = h.run_plain(["bash", "-c", cmd], input=stdin,
                        env=h.clean_env({"SOCKSHIM_LIB": h.LIBSOCKSHIM}))
        h.expect(f"{how}: exit status", r.rc, 0)
        h.expect(f"{how}: outcomes of both processes", outcomes(r), [["ECONNREFUSED"], ["ECONNREFUSED"]])


def env_values(tmp, srv):
    py = [h.PYTHON, "-I", "-c", "pass"]
    for bad in ("abc", "-1", "7abc", "0x", "18446744073709551616", " 1"):
        r = h.run_plain(py, env=preload_env(extra={"SOCKSHIM_SEED": bad}))
        h.expect(f"SOCKSHIM_SEED={bad!r}: exit status", r.rc, 2)
        h.check("SOCKSHIM_SEED" in r.stderr, f"SOCKSHIM_SEED={bad!r}: the error names the variable: {r.stderr!r}")
    for text, want in (("0x10", 16), ("16", 16), ("18446744073709551615", 18446744073709551615)):
        name = h.new_segment_name()
        h.on_cleanup(lambda n=name: h.remove_segment(n))
        r = h.run_plain(py, env=preload_env(name, extra={"SOCKSHIM_SEED": text}))
        h.expect(f"SOCKSHIM_SEED={text}: exit status", r.rc, 0)
        data = stats_json(name)
        h.expect(f"SOCKSHIM_SEED={text}: the run's seed", (data or {}).get("seed"), want)
    rules = write_rules(tmp, "debug.json", refuse_rules(srv.port))
    connect = h.python_prog("connect_n.py", "127.0.0.1", srv.port, 1)
    for value, lines in (("false", 0), ("0", 0), ("off", 0), ("1", 1), ("yes", 1)):
        r = h.run_plain(connect, env=preload_env(rules=rules, extra={"SOCKSHIM_DEBUG": value}))
        h.expect(f"SOCKSHIM_DEBUG={value}: debug lines", r.stderr.count("rule refuse fired"), lines)
    r = h.run_plain(connect, env=preload_env(rules=rules, extra={"SOCKSHIM_DEBUG": "maybe"}))
    h.expect("SOCKSHIM_DEBUG=maybe: exit status", r.rc, 2)


def nss_module(tmp):
    module = os.environ.get("SOCKSHIM_TEST_NSS_MODULE") or os.environ.get("NSS_TEST_MODULE")
    if os.geteuid() != 0:
        print("note: NSS case skipped: needs root for a private mount namespace")
        return False
    unshare = shutil.which("unshare")
    if not module or not unshare:
        h.fail(f"NSS case: module {module!r} or unshare missing")
        return False
    libdir = os.path.join(tmp, "nss")
    os.makedirs(libdir, exist_ok=True)
    shutil.copy(module, os.path.join(libdir, "libnss_sockshimtest.so.2"))
    conf = os.path.join(tmp, "nsswitch.conf")
    with open(conf, "w") as f:
        f.write("hosts: sockshimtest files\n")
    rules = write_rules(tmp, "nss.json", {"rules": [
        {"name": "no-udp", "on": ["socket", "connect"], "match": {"type": "dgram"},
         "do": {"fail": "EACCES"}}]})
    name = h.new_segment_name()
    h.on_cleanup(lambda: h.remove_segment(name))
    out = os.path.join(tmp, "nss-stats.json")
    prog = ("import socket\n"
            "try:\n socket.getaddrinfo('sockshim-nss-test.invalid', 80)\n"
            "except socket.gaierror as e:\n print('gaierror', e.errno)\n")
    r = h.run_plain([unshare, "-m", "--propagation", "private", "sh", "-c",
                     f"mount --bind {conf} /etc/nsswitch.conf && exec {h.SOCKSHIM} run --name {name} "
                     f"--json-out {out} -c {rules} -- {h.PYTHON} -I -c \"$0\"", prog],
                    env=h.clean_env({"SOCKSHIM_LIB": h.LIBSOCKSHIM, "LD_LIBRARY_PATH": libdir}))
    h.expect("NSS case: exit status", r.rc, 0)
    h.check("nss_sockshimtest: connect ok" in r.stderr,
            f"the module's socket calls ran unfaulted: stderr {r.stderr.strip()!r}")
    with open(out) as f:
        data = json.load(f)
    h.expect("NSS case: the module's UDP socket is not counted", h.sockets(data, "inet", "dgram", "udp"), None)
    h.expect("NSS case: rule hits", h.rule(data, "no-udp").get("hits"), 0)
    return True


def body(tmp):
    with h.TcpServer() as srv:
        low_fd_limit(tmp, srv)
        segment_identity(tmp, srv)
        compiled_table(tmp, srv)
        early_calls(tmp)
        names_in_use(tmp, srv)
        rules_from_pipes(tmp, srv)
        env_values(tmp, srv)
    nss_module(tmp)


h.main("silent_noops", body)
