"""Issue 15: a socket armed by inbound_loss or paced by rate keeps its rule across execve. The
kernel keeps the socket's filter and SO_MAX_PACING_RATE; the new image, classifying the inherited
socket afresh, recovers the rule's record from them (shim/packet_rules.h, recover), so:

- inbound_loss (progs/exec_armed.py udp, `"inbound_loss": 1` on bind): after the exec, the rule
  still drops every datagram; the program sees no filter of its own (SO_GET_FILTER length 0,
  not the rule's instructions); the filter it attaches is composed behind the rule's (still
  nothing arrives, where its own alone would keep the 'A's) and reads back as its own 4
  instructions; detaching it leaves the rule's (still nothing arrives).
- rate (progs/exec_armed.py tcp, `"rate": "1MiB/s"` on accept): the exec'd image reads 2 MiB
  from tcp_source outside the shim in 1.6..4 s (31 paced reads of 64 KiB: about 1.94 s); without
  the record it would read them at loopback speed, in well under a second.
"""
import os
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

N = 200
TCP_SIZE, TCP_LOW, TCP_HIGH = 2 << 20, 1.6, 4.0


def inbound_loss(tmp):
    rules = {"rules": [{"name": "drop-all", "on": "bind", "match": {"protocol": "udp"}, "do": {"inbound_loss": 1}}]}
    r = h.run_shim(h.python_prog("exec_armed.py", "udp", N), rules=rules, timeout=60)
    out = h.json_result("exec_armed.py udp", r)
    if out is None:
        return
    print(f"udp after exec: {out}")
    none = {"A": 0, "B": 0}
    h.expect("after exec: the program's own filter (SO_GET_FILTER length)", out["before"], [0, 0])
    h.expect("after exec: the rule alone", out["rule_only"], none)
    h.expect("after exec: attaching its own filter", out["attach"], 0)
    h.expect("after exec: its own filter read back (length)", out["get_len"], [0, 4])
    h.expect("after exec: its own filter behind the rule's", out["both"], none)
    h.expect("after exec: detaching its own", out["detach"], 0)
    h.expect("after exec: no filter of its own left", out["after_detach"], [0, 0])
    h.expect("after exec: the rule alone again", out["detached"], none)
    entry = h.rule(r.data, "drop-all")
    h.expect("inbound_loss: armed (once, before the exec), lifted", entry and (entry.get("armed"), entry.get("lifted")), (1, 0))


def rate(tmp):
    rules = {"rules": [{"name": "slow-link", "on": "accept", "match": {"protocol": "tcp"}, "do": {"rate": "1MiB/s"}}]}
    port_file = os.path.join(tmp, "tcp.port")
    res = {}

    def sink():
        res["sink"] = h.run_shim(h.python_prog("exec_armed.py", "tcp", port_file), rules=rules, timeout=40)
    t = threading.Thread(target=sink, daemon=True)
    t.start()
    port = h.wait_file(port_file)
    if not h.check(port is not None, "exec_armed.py tcp never published its port"):
        t.join(50)
        return
    source = h.run_plain(h.python_prog("tcp_source.py", port, TCP_SIZE), timeout=40)
    t.join(50)
    sent = h.json_result("tcp_source", source)
    got = h.json_result("exec_armed.py tcp", res.get("sink"))
    if sent is None or got is None:
        return
    h.expect("rate after exec: bytes and SHA-256 received", (got["bytes"], got["sha256"]), (TCP_SIZE, sent["sha256"]))
    print(f"rate after exec: {got['seconds']:.3f} s for {TCP_SIZE >> 10} KiB")
    h.check(TCP_LOW <= got["seconds"] <= TCP_HIGH,
            f"rate after exec: got {got['seconds']} s for 2 MiB, want {TCP_LOW}..{TCP_HIGH} s")


def body(tmp):
    inbound_loss(tmp)
    rate(tmp)


h.main("packet_rules_exec", body)
