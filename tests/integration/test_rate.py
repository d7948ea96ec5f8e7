"""Issue 15: `"do": {"rate": "1MiB/s"}` paces a TCP socket: what it sends with the kernel's
SO_MAX_PACING_RATE, what it receives by holding back recv in the shim (a token bucket in the fd
entry). The issue's demonstration: 10 MiB between two real programs (python: progs/tcp_source.py
sends, progs/tcp_sink.py reads to EOF and times it from accept) take 10 s +- 15 % in each
direction. Both directions run at once, on two connections, so the test takes about 10 s:

- receiving: tcp_sink under `sockshim run` with the rule on accept reads 10 MiB from tcp_source
  outside the shim (reads of at most 64 KiB, the first one free: 159 x 62.5 ms, about 9.9 s);
- sending: tcp_source under `sockshim run` with the rule on connect sends 10 MiB to tcp_sink
  outside the shim (the kernel sends a connection's first 10 segments unpaced, 640 KiB on
  loopback, then paces the rest: about 9.4 s).
Both must take 8.5..11.5 s. Without the rule the same transfers take less than 2 s (a baseline,
also run at once, so that a machine too slow to tell is caught rather than passed). Every byte
arrives (SHA-256), and the rule armed exactly one socket each time.
"""
import os
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

SIZE = 10 << 20
LOW, HIGH = 8.5, 11.5      # 10 s +- 15 %
PLAIN_HIGH = 2.0
RULE = "slow-link"
TIMEOUT = 40               # per program; the paced transfers end in about 10 s


def rules(on):
    return {"rules": [{"name": RULE, "on": on, "match": {"protocol": "tcp"}, "do": {"rate": "1MiB/s"}}]}


def transfer(tmp, tag, paced_side, rule_set, name, out):
    """tcp_sink and tcp_source, the paced_side ("sink" or "source") under `sockshim run --name
    NAME` with rule_set (None: no rules). Stores (seconds the sink took, the rule's entry) in
    out[tag], or (None, None)."""
    out[tag] = (None, None)
    port_file = os.path.join(tmp, f"{tag}.port")
    sink_argv = h.python_prog("tcp_sink.py", port_file)
    res = {}

    def sink():
        res["sink"] = (h.run_shim(sink_argv, rules=rule_set, timeout=TIMEOUT, name=name)
                       if paced_side == "sink" else h.run_plain(sink_argv, timeout=TIMEOUT))
    t = threading.Thread(target=sink, daemon=True)
    t.start()
    port = h.wait_file(port_file)
    if not h.check(port is not None, f"{tag}: tcp_sink never published its port"):
        t.join(TIMEOUT + 10)
        return
    source_argv = h.python_prog("tcp_source.py", port, SIZE)
    source = (h.run_shim(source_argv, rules=rule_set, timeout=TIMEOUT, name=name)
              if paced_side == "source" else h.run_plain(source_argv, timeout=TIMEOUT))
    t.join(TIMEOUT + 10)
    sent = h.json_result(f"{tag}: tcp_source", source)
    got = h.json_result(f"{tag}: tcp_sink", res.get("sink"))
    if sent is None or got is None:
        return
    h.expect(f"{tag}: bytes and SHA-256 received", (got["bytes"], got["sha256"]), (SIZE, sent["sha256"]))
    shim_run = res["sink"] if paced_side == "sink" else source
    entry = h.rule(shim_run.data, RULE) if rule_set and shim_run.data else None
    out[tag] = (got["seconds"], entry)


def in_parallel(tmp, cases):
    """Runs transfer() for each (tag, paced_side, rule_set) at once; returns {tag: (s, entry)}."""
    out = {}
    threads = [threading.Thread(target=transfer, args=(tmp, tag, side, rs, h.new_segment_name(), out), daemon=True)
               for tag, side, rs in cases]
    for t in threads:
        t.start()
    for t in threads:
        t.join(2 * TIMEOUT + 30)
    return out


def in_band(label, seconds, low, high):
    print(f"{label}: {seconds if seconds is None else round(seconds, 3)} s")
    h.check(seconds is not None and low <= seconds <= high, f"{label}: got {seconds} s, want {low}..{high} s")


def body(tmp):
    plain = in_parallel(tmp, [("recv-plain", "sink", None), ("send-plain", "source", None)])
    in_band("receiving 10 MiB without a rule", plain["recv-plain"][0], 0, PLAIN_HIGH)
    in_band("sending 10 MiB without a rule", plain["send-plain"][0], 0, PLAIN_HIGH)

    start = time.monotonic()
    paced = in_parallel(tmp, [("recv-paced", "sink", rules("accept")), ("send-paced", "source", rules("connect"))])
    print(f"both paced transfers together: {time.monotonic() - start:.3f} s")
    seconds, entry = paced["recv-paced"]
    in_band("receiving 10 MiB at 1MiB/s (recv held back)", seconds, LOW, HIGH)
    h.expect("receiving: sockets armed", entry and entry.get("armed"), 1)
    seconds, entry = paced["send-paced"]
    in_band("sending 10 MiB at 1MiB/s (SO_MAX_PACING_RATE)", seconds, LOW, HIGH)
    h.expect("sending: sockets armed", entry and entry.get("armed"), 1)


h.main("rate", body)
