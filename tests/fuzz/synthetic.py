"""Struct-written captures for the limits: storms, floods, one huge packet, a million tiny ones.

Nothing is built per packet with scapy: frames come from a few struct templates, so millions of
packets take seconds. Every writer streams to disk and returns the number of packets written.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

PCAP_HEADER = struct.Struct("<IHHiIII")
RECORD = struct.Struct("<IIII")
ETHERNET = struct.Struct("!6s6sH")
IPV4 = struct.Struct("!BBHHHBBHII")
ARP = struct.Struct("!HHBBH6sI6sI")
ICMP_HEADER = struct.Struct("!BBHI")
UDP = struct.Struct("!HHHH")
TCP = struct.Struct("!HHIIHHHH")
LINKTYPE_ETHERNET = 1
MAX_SNAPLEN = 262_144  # tshark's largest ordinary packet (WTAP_MAX_PACKET_SIZE_STANDARD)
BROADCAST = b"\xff" * 6
ETH_IP, ETH_ARP = 0x0800, 0x0806
ICMP, TCP_PROTO, UDP_PROTO = 1, 6, 17


def address(number: int) -> int:
    """10.0.0.0/8 host number -> IPv4 address as an integer."""
    return (10 << 24) | (number & 0xFFFFFF)


def mac(number: int) -> bytes:
    return b"\x02" + (number & 0xFFFFFFFFFF).to_bytes(5, "big")


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4(src: int, dst: int, proto: int, body: bytes, ident: int = 0, ttl: int = 64) -> bytes:
    length = min(20 + len(body), 0xFFFF)
    header = IPV4.pack(0x45, 0, length, ident & 0xFFFF, 0x4000, ttl, proto, 0, src, dst)
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + body


def ethernet(dst: bytes, src: bytes, kind: int, payload: bytes) -> bytes:
    return ETHERNET.pack(dst, src, kind) + payload


def arp_request(sender: int, target: int) -> bytes:
    body = ARP.pack(1, ETH_IP, 6, 4, 1, mac(sender), address(sender), b"\0" * 6, address(target))
    return ethernet(BROADCAST, mac(sender), ETH_ARP, body)


def port_unreachable(client: int, server: int, sport: int, dport: int) -> bytes:
    """The server's ICMP 3/3 quoting the client's UDP datagram (IP header and 8 bytes)."""
    quoted = ipv4(address(client), address(server), UDP_PROTO, UDP.pack(sport, dport, 8, 0))
    icmp = ICMP_HEADER.pack(3, 3, 0, 0) + quoted
    icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
    body = ipv4(address(server), address(client), ICMP, icmp)
    return ethernet(mac(client), mac(server), ETH_IP, body)


def write_pcap(path: Path, frames: Iterable[bytes], step_us: int = 10) -> int:
    """A little-endian microsecond pcap of Ethernet frames, `step_us` apart."""
    count = 0
    with open(path, "wb", buffering=1 << 20) as out:
        out.write(PCAP_HEADER.pack(0xA1B2C3D4, 2, 4, 0, 0, MAX_SNAPLEN, LINKTYPE_ETHERNET))
        for count, frame in enumerate(frames, start=1):
            microseconds = count * step_us
            record = RECORD.pack(1_700_000_000 + microseconds // 1_000_000,
                                 microseconds % 1_000_000, len(frame), len(frame))
            out.write(record + frame)
    return count


def arp_storm(packets: int, askers: int) -> Iterator[bytes]:
    """Requests from `askers` stations, each for ever new addresses: every table fills up."""
    for n in range(packets):
        yield arp_request(n % askers, 0x800000 + n)


def icmp_flood(packets: int) -> Iterator[bytes]:
    """Port unreachables, each about a different client and port: one error group each."""
    for n in range(packets):
        yield port_unreachable(n, 0xFFFF00 + n % 200, 1024 + n % 60000, 1 + n % 1000)


def syn_scan(packets: int) -> Iterator[bytes]:
    """TCP SYNs from one scanner to every port of many hosts, none answered."""
    for n in range(packets):
        syn = TCP.pack(40000, 1 + n % 65535, n, 0, 0x5002, 1024, 0, 0)
        body = ipv4(address(1), address(0x100000 + n // 65535), TCP_PROTO, syn, ident=n)
        yield ethernet(mac(2), mac(1), ETH_IP, body)


def tiny_frames(packets: int) -> Iterator[bytes]:
    """Ethernet headers announcing IPv4 with nothing after them (14 bytes each)."""
    frame = ethernet(BROADCAST, mac(1), ETH_IP, b"")
    for _ in range(packets):
        yield frame


def huge_packet(_packets: int = 1) -> Iterator[bytes]:
    """The largest frame tshark reads, an ICMP error quoting a datagram nearly as large,
    between two ordinary ones."""
    yield arp_request(1, 2)
    quoted = ipv4(address(1), address(2), UDP_PROTO, UDP.pack(4000, 53, 0xFFFF, 0))
    quoted += b"q" * (MAX_SNAPLEN - 14 - 20 - 8 - len(quoted))
    icmp = ICMP_HEADER.pack(3, 3, 0, 0) + quoted
    yield ethernet(mac(1), mac(2), ETH_IP, ipv4(address(2), address(1), ICMP, icmp))
    yield port_unreachable(1, 2, 4000, 53)


SCENARIOS: dict[str, Callable[[int], Iterator[bytes]]] = {
    "arp-storm": lambda n: arp_storm(n, askers=max(1, n // 4)),
    "arp-storm-one-station": lambda n: arp_storm(n, askers=1),
    "icmp-flood": icmp_flood,
    "syn-scan": syn_scan,
    "tiny-frames": tiny_frames,
    "huge-packet": huge_packet,
}
