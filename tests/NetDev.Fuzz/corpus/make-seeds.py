#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpus (one folder per target, small files) next to this script.

The seeds are well-formed inputs of each target's format (see the targets' docs in ../Targets): real
frame shapes, tunnel datagrams, rtnetlink messages and control requests, from which afl-fuzz and the
property tests mutate. Run it again after changing a target's input format.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ether(ethertype, payload, vlans=()):
    header = MAC_B + MAC_A
    for tag in vlans:
        header += struct.pack("!HH", 0x8100, tag)
    return header + struct.pack("!H", ethertype) + payload


def ipv4(protocol, transport, ident=1, options=b"", src=b"\x0a\x00\x00\x01", dst=b"\x0a\x00\x00\x02"):
    ihl = 5 + len(options) // 4
    header = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 20 + len(options) + len(transport), ident, 0x4000, 64, protocol, 0, src, dst) + options
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    pseudo = src + dst + struct.pack("!BBH", 0, protocol, len(transport))
    return header + with_transport_checksum(protocol, transport, pseudo)


def ipv6(protocol, transport, extensions=b"", first=None):
    src = bytes.fromhex("fd000000000000000000000000000001")
    dst = bytes.fromhex("fd000000000000000000000000000002")
    header = struct.pack("!IHBB16s16s", 0x60000000, len(extensions) + len(transport), first if first is not None else protocol, 64, src, dst)
    pseudo = src + dst + struct.pack("!IxxxB", len(transport), protocol)
    return header + extensions + with_transport_checksum(protocol, transport, pseudo)


def with_transport_checksum(protocol, transport, pseudo):
    field = 16 if protocol == 6 else 6
    transport = transport[:field] + b"\0\0" + transport[field + 2:]
    value = checksum(pseudo + transport)
    return transport[:field] + struct.pack("!H", value) + transport[field + 2:]


def tcp(seq, payload, flags=0x10, options=b""):
    offset = (20 + len(options)) // 4
    return struct.pack("!HHIIBBHHH", 40000, 5201, seq, 1000, offset << 4, flags, 65535, 0, 0) + options + payload


def udp(payload):
    return struct.pack("!HHHH", 40000, 4789, 8 + len(payload), 0) + payload


def write(target, name, data):
    folder = os.path.join(HERE, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def main():
    payload = bytes(range(256)) * 4
    frames = {
        "tcp4": ether(0x0800, ipv4(6, tcp(1, payload[:200]))),
        "tcp4-options": ether(0x0800, ipv4(6, tcp(1, payload[:100], options=b"\x01\x01\x08\x0a" + b"\0" * 8), options=b"\x01\x01\x01\x00")),
        "tcp6": ether(0x86DD, ipv6(6, tcp(1, payload[:300]))),
        "tcp6-hop-by-hop": ether(0x86DD, ipv6(6, tcp(1, payload[:64]), extensions=bytes([6, 0]) + b"\x01\x04\0\0\0\0", first=0)),
        "udp4": ether(0x0800, ipv4(17, udp(payload[:120]))),
        "udp6": ether(0x86DD, ipv6(17, udp(payload[:90]))),
        "tcp4-vlan": ether(0x0800, ipv4(6, tcp(1, payload[:80])), vlans=(5,)),
        "tcp4-qinq": ether(0x0800, ipv4(6, tcp(1, payload[:80])), vlans=(5, 6)),
        "arp": ether(0x0806, b"\x00\x01\x08\x00\x06\x04\x00\x01" + MAC_A + b"\x0a\0\0\x01" + b"\0" * 6 + b"\x0a\0\0\x02"),
    }
    for name, frame in frames.items():
        write("frame-layout", name, frame)

    # partial-checksum: start, offset (big-endian), GSO type, frame. The field holds the pseudo-header's sum.
    write("partial-checksum", "tcp4", struct.pack("!HHB", 34, 16, 0) + frames["tcp4"])
    write("partial-checksum", "udp6", struct.pack("!HHB", 54, 6, 0) + frames["udp6"])
    write("partial-checksum", "odd-offset", struct.pack("!HHB", 34, 15, 0) + frames["tcp4"])

    # gso: type, flags, segment size, checksum start and offset, frame.
    big = payload * 3
    write("gso", "tcp4", struct.pack("!BBHHH", 1, 1, 1000, 34, 16) + ether(0x0800, ipv4(6, tcp(7, big, flags=0x18))))
    write("gso", "tcp6", struct.pack("!BBHHH", 4, 1, 700, 54, 16) + ether(0x86DD, ipv6(6, tcp(7, big))))
    write("gso", "udp4-l4", struct.pack("!BBHHH", 5, 1, 500, 34, 6) + ether(0x0800, ipv4(17, udp(big))))
    write("gso", "tcp4-small-segments", struct.pack("!BBHHH", 1, 0, 9, 34, 16) + ether(0x0800, ipv4(6, tcp(7, payload[:100]))))
    write("gso", "none-checksum", struct.pack("!BBHHH", 0, 1, 0, 34, 16) + frames["tcp4"])

    # gro: setup byte, then frames as flags, length, bytes: one flow in order, a second flow, a push.
    def record(flags, frame):
        return struct.pack("!BH", flags, len(frame)) + frame
    flow = [ether(0x0800, ipv4(6, tcp(1 + i * 100, payload[i * 100:(i + 1) * 100], flags=0x18 if i == 3 else 0x10), ident=10 + i)) for i in range(4)]
    other = [ether(0x86DD, ipv6(6, tcp(5 + i * 64, payload[:64]))) for i in range(3)]
    write("gro", "tcp4-flow", bytes([0x1C]) + b"".join(record(0, f) for f in flow))
    write("gro", "two-flows", bytes([0x04]) + b"".join(record(1, f) for pair in zip(flow, other) for f in pair))
    write("gro", "flush-between", bytes([0x00]) + record(0, flow[0]) + record(8, flow[1]) + record(2, flow[2]))

    # tunnel: flags (1 from the peer, 2 coalescing), datagram = tunnel header + frame.
    header = b"ND\x01\x00"
    write("tunnel", "tcp4", bytes([1]) + header + frames["tcp4"])
    write("tunnel", "tcp4-coalescing", bytes([3]) + header + frames["tcp4"])
    write("tunnel", "bad-version", bytes([1]) + b"ND\x02\x00" + frames["arp"])
    write("tunnel", "runt", bytes([1]) + header + b"\0" * 10)
    # A GRO super-datagram: flags 4 (+1 peer, +2 coalescing), a 16-bit segment size, then three consecutive
    # segments of one flow, each behind its tunnel header, back to back.
    write("tunnel", "gro-flow", bytes([7]) + struct.pack("!H", len(header) + len(flow[0])) + b"".join(header + f for f in flow[:3]))

    # tunnel-keyed: flags (1 from the peer, 2 the target seals the frame, 4 then flips the bit a 16-bit position
    # names, 8 delivers twice), then the datagram or the frame to seal.
    keyed = b"ND\x02\x00" + bytes(16) + bytes(8)
    write("tunnel-keyed", "sealed-arp", bytes([3]) + frames["arp"])
    write("tunnel-keyed", "sealed-twice", bytes([11]) + frames["tcp4"])
    write("tunnel-keyed", "sealed-flipped", bytes([7]) + struct.pack("!H", 300) + frames["arp"])
    write("tunnel-keyed", "made-up", bytes([1]) + keyed + frames["arp"] + bytes(16))
    write("tunnel-keyed", "plain", bytes([1]) + header + frames["arp"])

    # rtnetlink: RTM_NEWLINK with the attributes the parser reads, an ack, an error, a deletion, in one buffer.
    def attribute(kind, value):
        length = 4 + len(value)
        return struct.pack("<HH", length, kind) + value + b"\0" * ((4 - length % 4) % 4)
    def message(kind, payload, flags=0, seq=1):
        return struct.pack("<IHHII", 16 + len(payload), kind, flags, seq, 0) + payload
    ifinfo = struct.pack("<BxHiII", 0, 1, 7, 0x1043, 0xFFFFFFFF)
    link = ifinfo + attribute(3, b"fuzz0\0") + attribute(4, struct.pack("<i", 1500)) + attribute(1, MAC_A) \
        + attribute(13, struct.pack("<i", 1000)) + attribute(33, b"\x01") + attribute(31, struct.pack("<i", 2)) + attribute(20, b"alias\0")
    write("rtnetlink", "newlink", message(16, link))
    write("rtnetlink", "ack", message(2, struct.pack("<i", 0) + message(16, b"")[:16]))
    write("rtnetlink", "error", message(2, struct.pack("<i", -19) + message(16, b"")[:16]))
    write("rtnetlink", "several", message(16, link, flags=2) + message(17, ifinfo) + message(3, struct.pack("<i", 0), flags=2))

    # control: request lines.
    for name, line in [("info", b'{"request": "info"}'), ("stats-queues", b'{"request": "stats", "queues": true}'),
                       ("statistics", b'{"request":"statistics"}'), ("unknown", b'{"request": "reboot"}'),
                       ("no-request", b'{"queues": false}'), ("not-json", b"info please"), ("escaped", b'{"request": "\\u0069nfo"}')]:
        write("control", name, line)


if __name__ == "__main__":
    main()
