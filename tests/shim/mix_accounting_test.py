#!/usr/bin/env python3
"""Exact stats for every wrapped function through the hot paths: `sockshim run` without rules
(no rule concerns any call, so every call that has a hot path takes it) around `shim_bench mix
N`, which makes a known number of calls per iteration. Each counter must equal what the loop did;
a hot path that counted differently from the general path would show here.

Usage: mix_accounting_test.py SOCKSHIM LIBSOCKSHIM SHIM_BENCH. Exit 0 pass, 1 fail."""
import json
import os
import subprocess
import sys

N = 10
# Per kind: what `shim_bench mix` does (tests/bench/shim_bench.cc), set-up and end included.
WANT = {
    # A connected pair first (listener, client, accepted); per iteration three sockets, two of
    # them connected to a fresh listener and accepted; eight sends and eight receives of 32 bytes.
    ("inet", "stream", "tcp"): {"opened": 2 + 3 * N, "accepted": 1 + 2 * N, "connected": 1 + 2 * N,
                                "listened": 1 + N, "listen_failed": 0,
                                "closed": 3 + 5 * N, "send_calls": 8 * N, "send_bytes": 8 * 32 * N,
                                "recv_calls": 8 * N, "recv_bytes": 8 * 32 * N},
    # Two bound, connected UDP sockets; one sendmmsg and one recvmmsg of one 32-byte message each.
    ("inet", "dgram", "udp"): {"opened": 2, "connected": 2, "closed": 2, "send_calls": N,
                               "send_bytes": 32 * N, "recv_calls": N, "recv_bytes": 32 * N},
    # A socketpair per iteration, both ends closed.
    ("unix", "stream", "default"): {"opened": 2 * N, "closed": 2 * N, "send_calls": 0, "recv_calls": 0},
}


def main():
    sockshim, lib, bench = sys.argv[1:4]
    name = f"mix-accounting-{os.getpid()}"
    env = dict(os.environ, SOCKSHIM_LIB=lib)
    for k in ("SOCKSHIM_RULES", "SOCKSHIM_STATS", "LD_PRELOAD"):
        env.pop(k, None)
    failures = []
    try:
        run = subprocess.run([sockshim, "run", "--name", name, "--keep", "--", bench, "mix", str(N)],
                             env=env, capture_output=True, text=True, timeout=60)
        if run.returncode != 0:
            print(f"FAIL: sockshim run: exit {run.returncode}: {run.stderr.strip()}")
            return 1
        out = subprocess.run([sockshim, "stats", name, "--json"], env=env, capture_output=True,
                             text=True, timeout=30, check=True).stdout
        data = json.loads(out)
    finally:
        subprocess.run([sockshim, "stats", name, "--remove"], env=env, capture_output=True, timeout=30)
    kinds = {(s.get("family"), s.get("type"), s.get("protocol")): s for s in data.get("sockets", [])}
    for kind, want in WANT.items():
        got = kinds.get(kind)
        if got is None:
            failures.append(f"{'/'.join(kind)}: no entry; got kinds {sorted(kinds)}")
            continue
        for key, value in want.items():
            if got.get(key) != value:
                failures.append(f"{'/'.join(kind)} {key}: got {got.get(key)}, want {value}")
    extra = set(kinds) - set(WANT)
    if extra:
        failures.append(f"kinds the loop never made: {sorted(extra)}")
    if data.get("raced_calls", 0):
        failures.append(f"raced_calls: got {data.get('raced_calls')}, want 0")
    for f in failures:
        print("FAIL: " + f)
    print(f"{len(WANT)} kinds checked, {len(failures)} failures")
    return 1 if failures else 0


sys.exit(main())
