"""Issue 15: an eBPF socket filter (SO_ATTACH_BPF) cannot be composed with an inbound_loss rule's
classic one: the program's replaces the rule's, the rule is lifted from the socket and says so in
the stats. progs/own_filter.py loads a keep-everything eBPF program with bpf(2) under `sockshim
run` (inbound_loss 0.5 on bind): half arrive before, all after; attached before the bind that
would arm the socket, the rule leaves the socket alone (SO_GET_FILTER's EACCES tells). Skips (77) where bpf(2) cannot
load a socket filter (no privilege, or kernel.unprivileged_bpf_disabled).
"""
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

N = 1000
RULE = "udp-loss"
RULES = {"rules": [{"name": RULE, "on": "bind", "match": {"protocol": "udp"}, "do": {"inbound_loss": 0.5}}]}


def body(tmp):
    r = h.run_shim(h.python_prog("own_filter.py", "ebpf", N), rules=RULES, timeout=80)
    out = h.json_result("own_filter.py under sockshim", r)
    if out is None:
        return
    if "ebpf" in out:
        h.skip(out["ebpf"])
    print(json.dumps(out))
    got = out["rule_only"]["A"] + out["rule_only"]["B"]
    h.check(860 <= got <= 1140, f"rule only: got {got} of {2 * N}, want 860..1140 (loss 0.5)")
    h.expect("SO_ATTACH_BPF", out["attach_bpf"], 0)
    # The kernel's answer for an eBPF filter, which has no classic form to show.
    h.expect("SO_GET_FILTER after SO_ATTACH_BPF", out["get"], ["EACCES", 0])
    h.expect("eBPF filter, rule lifted: received", out["bpf"], {"A": N, "B": N})
    h.expect("SO_ATTACH_BPF before bind", out["attach_bpf_early"], 0)
    h.expect("eBPF filter before the rule's bind: received (the rule leaves it)", out["bpf_early"], {"A": N, "B": N})
    entry = h.rule(r.data, RULE) if r.data else None
    if entry:
        h.expect("stats: sockets armed", entry.get("armed"), 1)
        h.expect("stats: sockets the rule was lifted from", entry.get("lifted"), 2)


h.main("own_filter_ebpf", body)
