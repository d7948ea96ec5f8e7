"""Issue 16: a program with 16 threads making socket calls at once in seccomp mode. The
supervisor serves notifications from several threads (docs/shim.md, "Many threads at once"),
so its shared state (processes, sockets, rules' triggers, counters) is touched concurrently:
every counter, every rule's hits and fires and the program's output must be those of the
preload object, which sees each call in the calling thread.

progs/thread_churn.py: 16 threads × 40 connections to the program's own echo server (a thread
per connection), with and without a rule that refuses exactly 25 connects ("times": 25) and a
rule that counts every close it sees ("after": 100000: hits only).
Skipped (77) without seccomp user notification.
"""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

THREADS, N = 16, 40
COUNTERS = ("opened", "connected", "connect_pending", "connect_failed", "listened", "accepted", "closed",
            "open_failed", "faults_injected", "send_calls", "send_bytes", "recv_bytes")
RULES = {"rules": [
    {"name": "refuse-25", "on": ["connect"], "match": {"protocol": "tcp"}, "when": {"after": 100, "times": 25},
     "do": {"fail": "ECONNREFUSED"}},
    {"name": "closes-seen", "on": ["close"], "when": {"after": 100000}, "do": {"fail": "EIO"}},
]}


def tcp(data):
    return {k: s.get(k) for s in (data or {}).get("sockets", []) if s["protocol"] == "tcp" for k in COUNTERS}


def body(tmp):
    h.need_seccomp()
    total = THREADS * N
    for label, rules, out in (
            ("no rules", None, f"ok {total} refused 0 other []"),
            ("refuse 25", RULES, f"ok {total - 25} refused 25 other []")):
        runs = {}
        for mode in ("preload", "seccomp"):
            r = h.run_shim(h.python_prog("thread_churn.py", str(THREADS), str(N)), rules=rules,
                           options=["--intercept", mode], timeout=60)
            h.expect(f"{label} ({mode}): exit", r.rc, 0)
            h.expect(f"{label} ({mode}): output", r.stdout.strip(), out)
            runs[mode] = r
        if not all(r.data for r in runs.values()):
            h.fail(f"{label}: a run wrote no JSON document")
            continue
        got = tcp(runs["seccomp"].data)
        h.expect(f"{label}: TCP counters, seccomp vs preload", got, tcp(runs["preload"].data))
        # A refused connect leaves one of the server's accepts waiting: a wake-up connection
        # each (connected, accepted, both ends closed); the refused sockets are closed too.
        refused = 25 if rules else 0
        h.expect(f"{label}: seccomp connected, accepted, closed",
                 (got.get("connected"), got.get("accepted"), got.get("closed")), (total, total, 2 * total + 1 + refused))
        hits = {x["name"]: (x.get("hits"), x.get("fired")) for x in runs["seccomp"].data.get("rules", [])}
        want_hits = {x["name"]: (x.get("hits"), x.get("fired")) for x in runs["preload"].data.get("rules", [])}
        h.expect(f"{label}: rule hits and fires, seccomp vs preload", hits, want_hits)
        if rules:
            h.expect(f"{label}: refuse-25 fired", hits.get("refuse-25", (0, 0))[1], 25)


h.main("seccomp_threads", body)
