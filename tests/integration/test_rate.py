"""Issue 15: `"do": {"rate": "1MiB/s"}` paces a TCP socket: what it sends with the kernel's
SO_MAX_PACING_RATE, what it receives by holding back recv in the shim (a token bucket in the fd
entry). Between python programs on loopback (progs/tcp_source.py sends, progs/tcp_sink.py reads
to EOF and times it from accept):

- receiving: tcp_sink under `sockshim run` with the rule on accept reads 512 KiB from tcp_source
  outside the shim in 0.35..3 s (ideally about 0.44 s: reads of 64 KiB, the first one free; a
  loaded machine only slows it); without the rule, in less than 0.35 s.
- sending: tcp_source under `sockshim run` with the rule on connect sends 2 MiB to tcp_sink outside
  the shim in 1..6 s. The kernel sends a connection's first 10 segments unpaced, 640 KiB on
  loopback, so about 1.4 s; without the rule, in less than 1 s.
Every byte arrives (SHA-256), and the rule armed one socket each time.
"""
import os
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

RECV_SIZE, RECV_LOW, RECV_HIGH = 512 << 10, 0.35, 3.0
SEND_SIZE, SEND_LOW, SEND_HIGH = 2 << 20, 1.0, 6.0
RULE = "slow-link"


def rules(on):
    return {"rules": [{"name": RULE, "on": on, "match": {"protocol": "tcp"}, "do": {"rate": "1MiB/s"}}]}


def transfer(tmp, tag, size, paced_side, rule_set):
    """tcp_sink and tcp_source, the paced_side ("sink" or "source") under `sockshim run` with
    rule_set (None: no rules). Returns (seconds the sink took, rule entry of the shim's run)."""
    port_file = os.path.join(tmp, f"{tag}.port")
    sink_argv = h.python_prog("tcp_sink.py", port_file)
    out = {}

    def sink():
        out["sink"] = (h.run_shim(sink_argv, rules=rule_set, timeout=60) if paced_side == "sink"
                       else h.run_plain(sink_argv, timeout=60))
    t = threading.Thread(target=sink, daemon=True)
    t.start()
    port = h.wait_file(port_file)
    if not h.check(port is not None, f"{tag}: tcp_sink never published its port"):
        t.join(70)
        return None, None
    source_argv = h.python_prog("tcp_source.py", port, size)
    source = (h.run_shim(source_argv, rules=rule_set, timeout=60) if paced_side == "source"
              else h.run_plain(source_argv, timeout=60))
    t.join(70)
    sent = h.json_result(f"{tag}: tcp_source", source)
    got = h.json_result(f"{tag}: tcp_sink", out.get("sink"))
    if sent is None or got is None:
        return None, None
    h.expect(f"{tag}: bytes and SHA-256 received", (got["bytes"], got["sha256"]), (size, sent["sha256"]))
    shim_run = out["sink"] if paced_side == "sink" else source
    entry = h.rule(shim_run.data, RULE) if rule_set and shim_run.data else None
    print(f"{tag}: {got['seconds']:.3f} s for {size >> 10} KiB")
    return got["seconds"], entry


def in_band(label, seconds, low, high):
    h.check(seconds is not None and low <= seconds <= high, f"{label}: got {seconds} s, want {low}..{high} s")


def body(tmp):
    seconds, _ = transfer(tmp, "recv-plain", RECV_SIZE, "sink", None)
    in_band("receiving 512 KiB without a rule", seconds, 0, RECV_LOW)
    seconds, entry = transfer(tmp, "recv-paced", RECV_SIZE, "sink", rules("accept"))
    in_band("receiving 512 KiB at 1MiB/s (recv held back)", seconds, RECV_LOW, RECV_HIGH)
    h.expect("receiving: sockets armed", entry and entry.get("armed"), 1)

    seconds, _ = transfer(tmp, "send-plain", SEND_SIZE, "source", None)
    in_band("sending 2 MiB without a rule", seconds, 0, SEND_LOW)
    seconds, entry = transfer(tmp, "send-paced", SEND_SIZE, "source", rules("connect"))
    in_band("sending 2 MiB at 1MiB/s (SO_MAX_PACING_RATE)", seconds, SEND_LOW, SEND_HIGH)
    h.expect("sending: sockets armed", entry and entry.get("armed"), 1)


h.main("rate", body)
