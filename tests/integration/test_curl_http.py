"""Scenario 1: curl fetches a file from a local `python3 -m http.server` (not under the shim).

curl's inet/stream/tcp cookie: one socket opened, connected and closed, no failures; the bytes
sent and received are exactly what curl itself reports (-w size_request, size_header +
size_download). One process record: argv0 "curl", exited with 0, no leaks.
"""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def body(tmp):
    curl = h.need_program("curl", "curl")
    www = os.path.join(tmp, "www")
    os.mkdir(www)
    payload = bytes(range(256)) * 20  # 5120 bytes
    with open(os.path.join(www, "data.bin"), "wb") as f:
        f.write(payload)

    with h.HttpServer(www) as srv:
        r = h.run_shim([curl, "-sS", "--noproxy", "*", "--max-time", "10", "-o", "/dev/null",
                        "-w", "%{size_request} %{size_header} %{size_download}\n",
                        srv.url("/data.bin")])
    if not h.expect("sockshim run exit status (curl's)", r.rc, 0):
        r.show()
    if not h.check(r.data is not None, "no JSON document written by --json-out"):
        r.show()
        return
    sizes = r.stdout.split()
    if not h.expect("curl -w output fields", len(sizes), 3):
        r.show()
        return
    size_request, size_header, size_download = map(int, sizes)
    h.expect("curl size_download", size_download, len(payload))

    tcp = h.need_socket(r.data, "inet", "stream", "tcp")
    h.expect_counters("inet/stream/tcp", tcp, {
        "opened": 1, "connected": 1, "closed": 1,
        "open_failed": 0, "connect_failed": 0, "close_failed": 0,
        "listened": 0, "accepted": 0, "faults_injected": 0,
        "send_bytes": (">", 0), "recv_bytes": (">", 0),
    })
    if tcp:
        h.expect("inet/stream/tcp send_bytes (curl's size_request)", tcp.get("send_bytes"),
                 size_request)
        h.expect("inet/stream/tcp recv_bytes (curl's size_header + size_download)",
                 tcp.get("recv_bytes"), size_header + size_download)
    h.expect("rules", r.data.get("rules"), [])

    procs = h.processes(r.data)
    if h.expect("number of process records", len(procs), 1):
        p = procs[0]
        h.expect("process argv0", p.get("argv0"), "curl")
        h.expect("process state", p.get("state"), "exited")
        h.expect("process exit", p.get("exit"), 0)
        h.expect("process ppid (sockshim run)", p.get("ppid"), r.pid)
        h.expect("process leaked_count", p.get("leaked_count"), 0)
        h.expect("process leaked", p.get("leaked"), [])
    if h._failures:
        r.show()


h.main("curl_http", body)
