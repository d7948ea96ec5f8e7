"""Issue 15: a program that attaches its own classic socket filter where an inbound_loss rule
attached one keeps working, and the kernel enforces both.

progs/own_filter.py, a python program under `sockshim run` with inbound_loss 0.5 on its UDP
sockets' bind, sends itself N datagrams starting with 'A' and N with 'B' per phase:
- the rule alone: about half of each arrive; SO_GET_FILTER says the program has no filter (0);
- its own filter (keep 'A' only, raw cBPF built with struct) composed behind the rule's: about
  half of the 'A's and no 'B'; SO_GET_FILTER gives back exactly its 4 instructions (EINVAL with
  room for 2, as the kernel says);
- SO_DETACH_FILTER takes its part away and leaves the loss (half of each again, length 0); a
  second detach fails with ENOENT, as on a socket without a filter;
- SO_LOCK_FILTER passes through: then every change is EPERM, the composition stays and reads back;
- a filter of 4 093 instructions cannot be composed with the rule's (past BPF_MAXINSNS): the
  program's own replaces the rule's, which is lifted (every 'A', no 'B').
- attached before the bind that arms the socket, its filter is composed behind the rule's too;
- a TCP listener the rule armed, with the program's own filter: the connection accept() returns
  answers SO_GET_FILTER with the program's filter and detaches it alone.
The stats say it: the UDP rule armed 3 sockets and was lifted from 1; the TCP rule armed the
listener and its connection.
"""
import json
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

N = 1000
RULE = "udp-loss"
RULES = {"rules": [
    {"name": RULE, "on": "bind", "match": {"protocol": "udp"}, "do": {"inbound_loss": 0.5}},
    # No segment is urgent: the TCP listener is armed, and nothing is lost.
    {"name": "tcp-armed", "on": "bind", "match": {"protocol": "tcp"},
     "do": {"inbound_loss": 1, "filter": "tcp[tcpflags] & tcp-urg != 0"}},
]}
FIRST_BYTE_A = [[0x30, 0, 0, 8], [0x15, 0, 1, ord("A")], [0x06, 0, 0, 0xFFFFFFFF], [0x06, 0, 0, 0]]


def about_half(label, got):
    # Binomial(1000, 0.5): sd 16; 430..570 is more than 4 sd either side.
    h.check(isinstance(got, int) and 430 <= got <= 570, f"{label}: got {got!r} of {N}, want 430..570 (loss 0.5)")


def body(tmp):
    r = h.run_shim(h.python_prog("own_filter.py", "cbpf", N), rules=RULES, timeout=80)
    out = h.json_result("own_filter.py under sockshim", r)
    if out is None:
        return
    print(json.dumps(out))
    h.expect("rule only: SO_GET_FILTER (the program has no filter)", out["before"], [0, 0])
    about_half("rule only: 'A' received", out["rule_only"]["A"])
    about_half("rule only: 'B' received", out["rule_only"]["B"])

    h.expect("SO_ATTACH_FILTER of the program's own", out["attach"], 0)
    h.expect("SO_GET_FILTER length", out["get_len"], [0, 4])
    h.expect("SO_GET_FILTER with room for 2 of 4", out["get_short"], "EINVAL")
    h.expect("SO_GET_FILTER: the program's own instructions", out["get"], [0, 4, FIRST_BYTE_A])
    about_half("both filters: 'A' received", out["both"]["A"])
    h.expect("both filters: 'B' received (the program's filter drops them)", out["both"]["B"], 0)

    h.expect("SO_DETACH_FILTER", out["detach"], 0)
    h.expect("after detach: SO_GET_FILTER", out["after_detach"], [0, 0])
    about_half("after detach (the loss stays): 'A' received", out["detached"]["A"])
    about_half("after detach (the loss stays): 'B' received", out["detached"]["B"])
    h.expect("a second SO_DETACH_FILTER", out["detach_again"], "ENOENT")

    h.expect("SO_ATTACH_FILTER again", out["attach_again"], 0)
    h.expect("SO_LOCK_FILTER", out["lock"], 0)
    h.expect("SO_ATTACH_FILTER when locked", out["attach_locked"], "EPERM")
    h.expect("SO_DETACH_FILTER when locked", out["detach_locked"], "EPERM")
    h.expect("SO_GET_FILTER when locked", out["get_locked"], [0, 4, FIRST_BYTE_A])
    about_half("locked: 'A' received", out["locked"]["A"])
    h.expect("locked: 'B' received", out["locked"]["B"], 0)

    # The kernel charges a filter to the socket's option memory: kernels before 6.9 allow 20 KiB
    # (net.core.optmem_max), too little for 4 093 instructions, and refuse them alone (ENOMEM).
    with open("/proc/sys/net/core/optmem_max") as f:
        long_fits = int(f.read()) >= 64 << 10
    if long_fits:
        h.expect("SO_ATTACH_FILTER of 4 093 instructions", out["attach_long"], 0)
        h.expect("SO_GET_FILTER of the long one (the kernel's: the rule is lifted)", out["get_long"], [0, 4093])
        h.expect("long filter, rule lifted: 'A' received", out["long"]["A"], N)
        h.expect("long filter, rule lifted: 'B' received", out["long"]["B"], 0)
    else:
        print("net.core.optmem_max below 64 KiB: the 4 093-instruction filter is refused alone; its checks skipped")
        h.expect("SO_ATTACH_FILTER of 4 093 instructions (optmem_max too small)", out["attach_long"], "ENOMEM")

    h.expect("SO_ATTACH_FILTER before the bind that arms the socket", out["attach_early"], 0)
    h.expect("attached before the bind: SO_GET_FILTER", out["get_early"], [0, 4, FIRST_BYTE_A])
    about_half("attached before the bind: 'A' received", out["early"]["A"])
    h.expect("attached before the bind: 'B' received", out["early"]["B"], 0)

    keep_all = [[0x06, 0, 0, 0xFFFFFFFF]]
    h.expect("TCP listener: SO_ATTACH_FILTER", out["tcp_attach"], 0)
    h.expect("TCP: SO_GET_FILTER on the accepted connection", out["tcp_get_accepted"], [0, 1, keep_all])
    h.expect("TCP: bytes through both filters", out["tcp_received"], "through both filters")
    h.expect("TCP: SO_DETACH_FILTER on the accepted connection", out["tcp_detach_accepted"], 0)
    h.expect("TCP: SO_GET_FILTER on it after detach", out["tcp_get_after_detach"], [0, 0])
    h.expect("TCP: SO_GET_FILTER on the listener", out["tcp_get_listener"], [0, 1, keep_all])
    tcp_entry = h.rule(r.data, "tcp-armed") if r.data else None
    if tcp_entry:
        h.expect("stats: TCP sockets armed (the listener and the connection it accepted)", tcp_entry.get("armed"), 2)

    entry = h.rule(r.data, RULE) if r.data else None
    if entry:
        h.expect("stats: sockets armed", entry.get("armed"), 3)
        h.expect("stats: sockets the rule was lifted from", entry.get("lifted"), 1 if long_fits else 0)
        h.expect("stats: fired", entry.get("fired"), 3)


h.main("own_filter", body)
