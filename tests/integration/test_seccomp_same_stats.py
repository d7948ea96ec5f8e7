"""Issue 16: dynamically linked programs give the same counts in seccomp mode as with the
preload object, for what seccomp mode counts so far (opened, connected, connect_pending,
connect_failed, listened, accepted, closed; sends and receives are not counted there yet).

curl and a python3 urllib client fetch a page from python3 -m http.server on 127.0.0.1, and one
curl is refused by a rule; each runs once with --intercept preload and once with --intercept
seccomp, and every kind of socket must have the same counters and the rule the same hits.
Skipped (77) without curl or seccomp user notification.
"""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

COUNTERS = ("opened", "connected", "connect_pending", "connect_failed", "listened", "accepted", "closed",
            "faults_injected")


def counts(data):
    return {(s["family"], s["type"], s["protocol"]): {k: s.get(k) for k in COUNTERS}
            for s in (data or {}).get("sockets", [])}


def rule_hits(data):
    return {r["name"]: (r.get("hits"), r.get("fired")) for r in (data or {}).get("rules", [])}


def body(tmp):
    curl = h.need_program("curl", "curl")
    h.need_seccomp()
    www = h.hello_site(tmp)
    with h.HttpServer(www) as srv:
        refuse = h.refuse_tcp_port("refuse-http", srv.port)
        cases = [
            ("curl", [curl, "-sS", "--noproxy", "*", "-o", "/dev/null", srv.url("/")], None, 0),
            ("python urllib", [h.PYTHON, "-I", "-c",
                               f"import urllib.request as u; u.urlopen('{srv.url('/')}').read()"], None, 0),
            ("curl refused", [curl, "-sS", "--noproxy", "*", "-o", "/dev/null", srv.url("/")], refuse, 7),
        ]
        for label, argv, rules, want_rc in cases:
            runs = {}
            for mode in ("preload", "seccomp"):
                r = h.run_shim(argv, rules=rules, options=["--intercept", mode])
                h.expect(f"{label} ({mode}): exit", r.rc, want_rc)
                if h.check(r.data is not None, f"{label} ({mode}): no JSON document"):
                    h.expect(f"{label} ({mode}): intercept", r.data.get("intercept", {}).get("mode"), mode)
                runs[mode] = r
            if all(r.data for r in runs.values()):
                h.expect(f"{label}: counters, seccomp vs preload", counts(runs["seccomp"].data),
                         counts(runs["preload"].data))
                h.expect(f"{label}: rule hits and fires, seccomp vs preload", rule_hits(runs["seccomp"].data),
                         rule_hits(runs["preload"].data))


h.main("seccomp_same_stats", body)
