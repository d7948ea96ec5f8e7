#!/usr/bin/env python3
"""Writes small TCP captures (LINKTYPE_RAW, as the sniffer writes) that scripts/netns-tcp.sh
--check-pcap must pass or fail, so the tshark check is itself tested without root:

  good.pcap          handshake with SACK-permitted, window scale and timestamps both ways,
                     data both ways, FINs both ways, timestamps on every segment
  lossy.pcap         good.pcap plus a dropped-and-retransmitted data segment
  bad_checksum.pcap  good.pcap with one TCP checksum off by one
  no_sack.pcap       good.pcap whose SYN-ACK does not offer SACK-permitted
  http_crlf.pcap     an HTTP exchange on port 8000 whose reply's last segment begins with CR LF
                     and a printable byte, as the random body of the fetch test sometimes does
                     (CI saw it): tshark's HTTP dissector calls that an error, which says
                     nothing about TCP, so the check must pass it
  thrift_lookalike.pcap  good.pcap on ports no dissector owns, the reply a piece of that random
                     body which tshark's Thrift heuristic takes for Thrift and calls an error;
                     the check must pass it too
  checksum_ffff.pcap good.pcap whose kernel data segment carries its checksum 0x0000 as 0xffff,
                     the same in one's complement (RFC 1624): Linux sent one in a lossy echo run
                     and tshark calls it "Bad" (a warning); the check must pass it

usage: make_pcap_fixtures.py OUTDIR
"""
import os
import struct
import sys

KERNEL, STACK = bytes([10, 78, 0, 1]), bytes([10, 78, 0, 2])
SYN, ACK, FIN, PSH = 0x02, 0x10, 0x01, 0x08


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def options(ts, syn=False, sack=True):
    tsopt = struct.pack("!BBII", 8, 10, ts[0], ts[1])
    if not syn:
        return b"\x01\x01" + tsopt
    out = struct.pack("!BBH", 2, 4, 1460)               # MSS
    out += b"\x04\x02" if sack else b"\x01\x01"         # SACK-permitted (or two NOPs)
    out += tsopt + b"\x01" + struct.pack("!BBB", 3, 3, 7)  # timestamps, NOP, window scale 7
    return out


def packet(src, dst, sport, dport, seq, ack, flags, opts, payload=b"", bad_sum=False, ffff=False):
    off = (20 + len(opts)) // 4
    if ffff:
        # The last two payload bytes are chosen so that the checksum comes out 0x0000, which is
        # then written as 0xffff: the same value in one's complement (RFC 1624), as Linux sometimes
        # sends it. The payload length must be even, so those bytes are one 16-bit word.
        assert len(payload) % 2 == 0 and len(payload) >= 2
        payload = payload[:-2] + b"\0\0"
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags, 502, 0, 0) + opts + payload
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    s = csum(pseudo + tcp)
    if ffff:
        word = s  # adding ~(sum) to the sum makes it 0xffff, so the checksum becomes 0x0000
        tcp = tcp[:-2] + struct.pack("!H", word)
        assert csum(pseudo + tcp) == 0
        s = 0xFFFF
    if bad_sum:
        s = (s + 1) & 0xFFFF
    tcp = tcp[:16] + struct.pack("!H", s) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + tcp


# The start of a random segment of the fetch test's body that tshark's Thrift heuristic claimed
# (compact protocol, 0x82 0x41) and then called an error: "varint value too large".
THRIFT_LOOKALIKE = bytes.fromhex("82411eeed9e4a58e71275a3dcefdb53a4f7bf457fe31c395b80a99dcd9274422479a371a09e5a501"
                                 "0096cea3c006e6cad8c91e45646e8ebd267e45264718312fd7b55952244c30bc2d5a63674e3768")


def conversation(lossy=False, bad_sum=False, sack=True, http_crlf=False, thrift=False, ffff=False):
    k, s = 1000, 5000  # initial sequence numbers (kernel client, stack server)
    kp, sp = 40000, 7
    d1, d2 = bytes(range(256)) * 4, bytes(reversed(range(256))) * 4
    replies = [d2]
    if http_crlf:  # the kernel is the HTTP client here; the reply's last segment starts "\r\n^)"
        sp = 8000
        d1 = b"GET /blob HTTP/1.0\r\n\r\n"
        head = b"HTTP/1.0 200 OK\r\nContent-Length: 2048\r\n\r\n"
        replies = [head, d2, b"\r\n^)" + d2[4:]]
        d2 = b"".join(replies)
    if thrift:  # on ports no dissector owns, so tshark's heuristics get the payload
        kp, sp = 45001, 45000
        d2 = THRIFT_LOOKALIKE
        replies = [d2]
    pk = []

    def K(seq, ack, flags, payload=b"", t=0, syn=False, bad=False):
        pk.append(packet(KERNEL, STACK, kp, sp, seq, ack, flags, options((100 + t, 900 + t), syn), payload, bad,
                         ffff=ffff and bool(payload)))

    def S(seq, ack, flags, payload=b"", t=0, syn=False):
        pk.append(packet(STACK, KERNEL, sp, kp, seq, ack, flags, options((900 + t, 100 + t), syn, sack), payload))

    K(k, 0, SYN, syn=True)
    S(s, k + 1, SYN | ACK, syn=True)
    K(k + 1, s + 1, ACK, t=1)
    K(k + 1, s + 1, ACK | PSH, d1, t=2, bad=bad_sum)
    if lossy:
        K(k + 1 + len(d1), s + 1, ACK | PSH, d2, t=3)   # the stack never sees it ...
        K(k + 1 + 2 * len(d1), s + 1, ACK | PSH, d1, t=4)
        S(s + 1, k + 1 + len(d1), ACK, t=4)             # ... so it asks again
        K(k + 1 + len(d1), s + 1, ACK | PSH, d2, t=250)  # retransmitted after an RTO
        S(s + 1, k + 1 + 2 * len(d1) + len(d1), ACK, t=250)
        data_end = k + 1 + 3 * len(d1)
    else:
        data_end = k + 1 + len(d1)
    sent = 0
    for r in replies:
        S(s + 1 + sent, data_end, ACK | PSH, r, t=251)
        sent += len(r)
    K(data_end, s + 1 + len(d2), ACK | FIN, t=252)
    S(s + 1 + len(d2), data_end + 1, ACK | FIN, t=253)
    K(data_end + 1, s + 2 + len(d2), ACK, t=254)
    return pk


def write_pcap(path, packets):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))  # LINKTYPE_RAW
        for i, p in enumerate(packets):
            f.write(struct.pack("<IIII", 1700000000, i * 1000, len(p), len(p)) + p)


def main():
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(sys.argv) == 2 else 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    write_pcap(os.path.join(out, "good.pcap"), conversation())
    write_pcap(os.path.join(out, "lossy.pcap"), conversation(lossy=True))
    write_pcap(os.path.join(out, "bad_checksum.pcap"), conversation(bad_sum=True))
    write_pcap(os.path.join(out, "no_sack.pcap"), conversation(sack=False))
    write_pcap(os.path.join(out, "http_crlf.pcap"), conversation(http_crlf=True))
    write_pcap(os.path.join(out, "thrift_lookalike.pcap"), conversation(thrift=True))
    write_pcap(os.path.join(out, "checksum_ffff.pcap"), conversation(ffff=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
