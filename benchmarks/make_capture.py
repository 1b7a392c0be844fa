"""Write a realistic mixed capture for netwhy's benchmark, fast and deterministically.

Usage: python benchmarks/make_capture.py OUT.pcap [--packets 1000000] [--seed 1]
           [--ipv6-share FRACTION]

The output is a classic pcap (little-endian, microsecond timestamps, Ethernet). Frames are
struct-packed from a handful of prebuilt templates with addresses, ports, sequence numbers,
ids and checksums patched in; nothing is built per packet with scapy, so a million packets
take seconds, not minutes. IPv4 header checksums are valid, and so are TCP, UDP and ICMP
checksums (payload sums are precomputed per template, so this costs a few integer additions).

About 256 conversations run at once; each next frame comes from a randomly picked one and the
clock advances 1-128 µs per frame, so conversations interleave as on a busy LAN uplink. The
capture point is a client LAN (10.1.0.0/16, gateway 10.1.0.1): off-LAN peers are reached
through the gateway's MAC address.

Mix, as a share of packets (targets; the generator prints the exact counts it wrote):

  ~73%  TCP conversations, client 10.1.x.y to ~300 servers (10.20.0.0/16, 192.0.2.0/24) on
        443 (one TLS application-data record per segment) or 80 (HTTP/1.1 request and a
        one-segment response): SYN, SYN-ACK, ACK, 1-6 request/response rounds with responses
        of 1-20 segments (full 1460-byte and smaller tails), uploads both ways, delayed ACKs
        (every second segment), FIN/ACK, FIN/ACK, ACK. Sequence numbers are consistent, so
        tshark's TCP analysis flags nothing unusual.
   ~6%  DNS A queries and answers on port 53 (resolvers 10.1.0.53 and 192.0.2.53).
  ~15%  RTP-ish UDP streams to port 5004 (G.711, 172-byte payloads), half of them two-way.
  ~2.9% ICMP, from these cases:
        - echo request/reply pairs (1-5 pings) to servers and LAN hosts;
        - echo requests without reply (1-4) to silent hosts in 10.99.0.0/16;
        - port unreachable (3/3) from hosts quoting the whole UDP request: TP-Link smart-plug
          queries to port 9999 (10.20.9.0/24), and SNMP get-requests to port 161 (LAN
          devices 10.1.200.0/24); 1-3 tries each;
        - net unreachable (3/0) from a router (10.1.0.1 or 10.254.0.1) quoting a TCP SYN to
          198.51.100.0/24 (IP header + 8 bytes, as routers do); 1-3 tries each;
        - fragmentation needed (3/4, next-hop MTU 1400) from router 10.254.3.1 quoting a
          1500-byte DF TCP segment to 10.30.0.0/16, after which the client resends the data in
          1360-byte segments and the conversation completes (path MTU discovery);
        - a few TTL exceeded (11/0): traceroute-style UDP probes to 33434+ with TTL 1-3,
          answered by the routers 10.1.0.1, 10.254.0.1, 10.254.1.1.
  ~1.5% ARP: request/reply pairs between LAN hosts and the gateway, unanswered requests (1-3)
        for absent hosts in 10.1.250.0/24, and a few gratuitous ARPs.

With --ipv6-share FRACTION (default 0: IPv4 only, byte for byte the capture of earlier
versions), about that fraction of the packets is IPv6 (EtherType 0x86DD) and the IPv4 kinds keep
their proportions among themselves. The LAN is dual-stack: clients are 2001:db8:1::/64, the
SLAAC (EUI-64) addresses of the IPv4 clients' MACs; the gateway is 2001:db8:1::1 and fe80::1
(the IPv4 gateway's MAC); routers beyond it are in 2001:db8:fe::/48. TCP, UDP and ICMPv6
checksums cover the IPv6 pseudo-header. As a share of the IPv6 packets:

  ~73%  TCP web sessions to ~300 servers in 2001:db8:20::/48, the IPv4 logic with MSS 1440.
   ~6%  DNS AAAA queries and answers (resolvers 2001:db8:1::53 and 2001:db8:20:53::53).
  ~15%  RTP-ish UDP streams to port 5004 (2001:db8:20:5000::/64).
   ~2%  ICMPv6 echo: request/reply pairs, and unanswered requests to 2001:db8:99::/48.
  ~2.4% ICMPv6 errors, each quoting as much of the offending packet as fits in 1280 bytes
        (RFC 4443), its hop limit lowered by the routers it passed:
        - destination unreachable, no route (1/0), from the gateway or 2001:db8:fe::1, to TCP
          SYNs for 2001:db8:bad::/48; administratively prohibited (1/1) from 2001:db8:fe:99::1
          to SYNs for SSH, SMB, RDP; address unreachable (1/3) from the last-hop router
          2001:db8:fe:77::1 to pings; port unreachable (1/4) from the host itself, to SNMP
          get-requests (LAN devices 2001:db8:1::c8:0/120) and AAAA queries to servers that run
          no DNS; 1-3 tries each;
        - packet too big (2/0, MTU 1280) from 2001:db8:fe:3::1 to a 1500-byte segment: the
          client resends it as 1220 + 220 bytes and keeps to 1220 from then on;
        - time exceeded (3/0): traceroute-style UDP probes to 33434+ with hop limits 1-3.
  ~1.6% Neighbor Discovery: NS (to the solicited-node multicast address, source link-layer
        option) and solicited NA (override, target link-layer option) between hosts and the
        gateway; unanswered NS (1-3) for absent hosts in 2001:db8:1::fa:0/112; now and then a
        router advertisement from fe80::1 (hop limit 255, MTU 1500, prefix 2001:db8:1::/64).
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import struct
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

GENERATOR_VERSION = 2  # bump when the output changes, so cached captures are regenerated
START_US = 1_709_294_400 * 1_000_000  # 2024-03-01 12:00:00 UTC
POOL_BITS = 8  # 256 concurrent conversations

PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)  # LINKTYPE_ETHERNET
RECORD = struct.Struct("<IIII")
IPV4 = struct.Struct("!BBHHHBBHII")
TCP = struct.Struct("!HHIIHHHH")
UDP = struct.Struct("!HHHH")
ICMP = struct.Struct("!BBHHH")
RTP = struct.Struct("!BBHII")
ARP = struct.Struct("!HHBBH6sI6sI")

TCP_PROTO, UDP_PROTO, ICMP_PROTO = 6, 17, 1
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
MSS = 1460
PMTU = 1400


def ip(dotted: str) -> int:
    a, b, c, d = (int(part) for part in dotted.split("."))
    return a << 24 | b << 16 | c << 8 | d


GATEWAY = ip("10.1.0.1")
LAN, LAN_MASK = ip("10.1.0.0"), 0xFFFF0000
BROADCAST_MAC = b"\xff" * 6


# --- checksums -------------------------------------------------------------------------------


def sum16(data: bytes) -> int:
    """Ones'-complement partial sum of big-endian 16-bit words (odd length padded with 0)."""
    if len(data) % 2:
        data += b"\0"
    return sum(struct.unpack(f"!{len(data) // 2}H", data))


def checksum(partial: int) -> int:
    partial = (partial & 0xFFFF) + (partial >> 16)
    partial = (partial & 0xFFFF) + (partial >> 16)
    return ~partial & 0xFFFF


def addr_sum(address: int) -> int:
    return (address >> 16) + (address & 0xFFFF)


@dataclass(frozen=True)
class Payload:
    """Payload bytes with their checksum partial sum, computed once per template."""

    data: bytes
    csum: int

    @classmethod
    def of(cls, data: bytes) -> Payload:
        return cls(data, sum16(data))


EMPTY = Payload(b"", 0)
SYN_OPTIONS = Payload.of(struct.pack("!BBH", 2, 4, MSS) + b"\x01\x01\x04\x02")  # MSS, SACK-perm


# --- templates -------------------------------------------------------------------------------


def tls_records(rng: random.Random, sizes: list[int]) -> dict[int, Payload]:
    """One TLS 1.2 application-data record filling each segment size."""
    return {
        size: Payload.of(b"\x17\x03\x03" + struct.pack("!H", size - 5) + rng.randbytes(size - 5))
        for size in sizes
    }


def http_requests() -> list[Payload]:
    paths = ["/", "/index.html", "/api/v1/status", "/static/app.js", "/images/logo.png",
             "/search?q=network+troubleshooting&page=2", "/feed.xml", "/health"]
    return [
        Payload.of(
            f"GET {path} HTTP/1.1\r\nHost: www{n}.example.com\r\nUser-Agent: netwhy-bench/1.0\r\n"
            f"Accept: */*\r\nAccept-Encoding: gzip\r\nConnection: keep-alive\r\n\r\n".encode()
        )
        for n, path in enumerate(paths)
    ]


def http_responses(sizes: list[int]) -> list[Payload]:
    """Complete HTTP responses, each exactly one segment of the given size."""
    out = []
    for size in sizes:
        head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n"
        body_len = size - len(head.format("0000"))
        body = (b"netwhy benchmark body " * (size // 20 + 1))[:body_len]
        out.append(Payload.of(head.format(f"{body_len:04d}").encode() + body))
    return out


def dns_pair(name: str, answer: bytes, qtype: int = 1) -> tuple[Payload, Payload]:
    """Query and answer for an A (or, qtype 28, AAAA) record, with the transaction id left 0
    (added per packet)."""
    qname = b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"
    question = qname + struct.pack("!HH", qtype, 1)
    query = struct.pack("!HHHHHH", 0, 0x0100, 1, 0, 0, 0) + question
    record = struct.pack("!HHHIH", 0xC00C, qtype, 1, 300, len(answer)) + answer
    reply = struct.pack("!HHHHHH", 0, 0x8180, 1, 1, 0, 0) + question + record
    return Payload.of(query), Payload.of(reply)


def tplink_query() -> bytes:
    """A TP-Link smart-plug sysinfo query: JSON with XOR autokey 171, as the plugs expect."""
    key, out = 171, bytearray()
    for byte in b'{"system":{"get_sysinfo":{}}}':
        key ^= byte
        out.append(key)
    return bytes(out)


def snmp_get(request_id: int) -> bytes:
    """SNMPv2c GetRequest for sysDescr.0, community 'public'."""
    varbind = bytes.fromhex("300e300c06082b060102010101000500")
    pdu = b"\x02\x04" + struct.pack("!I", request_id) + b"\x02\x01\x00\x02\x01\x00" + varbind
    body = b"\x02\x01\x01\x04\x06public" + b"\xa0" + bytes([len(pdu)]) + pdu
    return b"\x30" + bytes([len(body)]) + body


# --- frames ----------------------------------------------------------------------------------


class Frames:
    """Builds Ethernet frames; keeps the IP id counter and MAC addresses."""

    syn_options = SYN_OPTIONS

    def __init__(self) -> None:
        self.ident = 0
        self.macs: dict[int, bytes] = {}

    def mac(self, address: int) -> bytes:
        """Own MAC for LAN hosts; the gateway's for everything beyond it."""
        mac = self.macs.get(address)
        if mac is None:
            on_lan = address & LAN_MASK == LAN
            mac = b"\x02\x00" + (address if on_lan else GATEWAY).to_bytes(4, "big")
            self.macs[address] = mac
        return mac

    def ipv4(self, src: int, dst: int, proto: int, body: bytes, ttl: int, df: bool) -> bytes:
        self.ident = (self.ident + 1) & 0xFFFF
        total = 20 + len(body)
        flags = 0x4000 if df else 0
        partial = (0x4500 + total + self.ident + flags + (ttl << 8 | proto)
                   + addr_sum(src) + addr_sum(dst))
        header = IPV4.pack(0x45, 0, total, self.ident, flags, ttl, proto, checksum(partial),
                           src, dst)
        return self.mac(dst) + self.mac(src) + b"\x08\x00" + header + body

    def tcp(self, src: int, dst: int, sport: int, dport: int, seq: int, ack: int, flags: int,
            payload: Payload = EMPTY, options: Payload = EMPTY, ttl: int = 64) -> bytes:
        seq &= 0xFFFFFFFF
        ack &= 0xFFFFFFFF
        header_len = 20 + len(options.data)
        length = header_len + len(payload.data)
        offset_flags = header_len << 10 | flags
        window = 64240 if sport > 1024 else 65160
        partial = (addr_sum(src) + addr_sum(dst) + TCP_PROTO + length + sport + dport
                   + (seq >> 16) + (seq & 0xFFFF) + (ack >> 16) + (ack & 0xFFFF)
                   + offset_flags + window + options.csum + payload.csum)
        header = TCP.pack(sport, dport, seq, ack, offset_flags, window, checksum(partial), 0)
        return self.ipv4(src, dst, TCP_PROTO, header + options.data + payload.data, ttl, True)

    def udp(self, src: int, dst: int, sport: int, dport: int, payload: Payload,
            extra_csum: int = 0, head: bytes = b"", ttl: int = 64) -> bytes:
        """UDP datagram of `head` + payload; extra_csum is head's partial sum."""
        length = 8 + len(head) + len(payload.data)
        partial = (addr_sum(src) + addr_sum(dst) + UDP_PROTO + 2 * length + sport + dport
                   + extra_csum + payload.csum)
        csum = checksum(partial) or 0xFFFF  # 0 would mean "no checksum"
        header = UDP.pack(sport, dport, length, csum)
        return self.ipv4(src, dst, UDP_PROTO, header + head + payload.data, ttl, False)

    def icmp(self, src: int, dst: int, kind: int, code: int, rest: int, data: bytes,
             ttl: int = 64) -> bytes:
        """ICMP message; `rest` is the 32-bit rest-of-header (echo id/seq, next-hop MTU)."""
        partial = (kind << 8 | code) + (rest >> 16) + (rest & 0xFFFF) + sum16(data)
        header = ICMP.pack(kind, code, checksum(partial), rest >> 16, rest & 0xFFFF)
        return self.ipv4(src, dst, ICMP_PROTO, header + data, ttl, False)

    def icmp_error(self, router: int, offending: bytes, kind: int, code: int, rest: int = 0,
                   whole: bool = False, ttl: int = 64) -> bytes:
        """ICMP error about an offending frame, quoting its IP header + 8 bytes (routers) or
        the whole datagram up to 548 bytes (hosts, as Linux does)."""
        datagram = offending[14:]
        quoted = datagram[:548] if whole else datagram[:28]
        victim = int.from_bytes(datagram[12:16], "big")
        return self.icmp(router, victim, kind, code, rest, quoted, ttl)

    def arp(self, op: int, sender: int, target: int, target_mac: bytes = b"\0" * 6,
            eth_dst: bytes = BROADCAST_MAC) -> bytes:
        sender_mac = self.mac(sender)
        body = ARP.pack(1, 0x0800, 6, 4, op, sender_mac, sender, target_mac, target)
        return eth_dst + sender_mac + b"\x08\x06" + body


# --- conversations ---------------------------------------------------------------------------


class Traffic:
    """Conversation generators; each yields the Ethernet frames of one conversation."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.f = Frames()
        self.port = 32768
        self.servers = [ip(f"10.20.{rng.randrange(4)}.{rng.randint(1, 254)}") for _ in range(200)]
        self.servers += [ip(f"192.0.2.{rng.randint(1, 127)}") for _ in range(100)]
        self.tls = tls_records(rng, [MSS, 1200, 900, 517, 310, 180, 96, 64, 41])
        self.tls_small = [self.tls[size] for size in (41, 64, 96, 180, 310, 517)]
        self.tls_tails = [self.tls[size] for size in (64, 180, 310, 517, 900, 1200)]
        self.full = self.tls[MSS]  # a full-sized segment's record
        cut = PMTU - 40  # the MSS that fits the 1400-byte path
        self.pmtu_head = Payload.of(self.tls[MSS].data[:cut])
        self.pmtu_tail = Payload.of(self.tls[MSS].data[cut:])
        self.http_requests = http_requests()
        self.http_responses = http_responses([240, 512, 777, 1024, 1300, MSS])
        self.dns_pairs = [dns_pair(f"host{n}.{zone}", ip(f"10.20.{n % 4}.{n + 1}").to_bytes(4))
                          for n in range(48) for zone in ("example.com", "example.net")]
        self.resolvers = (ip("10.1.0.53"), ip("192.0.2.53"))
        self.voice = [Payload.of(rng.randbytes(160)) for _ in range(16)]
        self.echo_data = Payload.of(bytes(range(0x10, 0x48)))  # 56 bytes, like Linux ping
        self.tplink = Payload.of(tplink_query())
        self.echo = (8, 0)  # ICMP echo request and reply types

    # addresses and ports
    def client(self) -> int:
        return ip(f"10.1.{self.rng.randint(1, 15)}.{self.rng.randint(1, 254)}")

    def ephemeral(self) -> int:
        self.port = 32768 + (self.port - 32768 + self.rng.randint(1, 97)) % 28232
        return self.port

    def server_ttl(self, server: int) -> int:
        return 64 if server & LAN_MASK == LAN else 64 - 4 - (server & 7)

    # TCP
    def tcp_web(self) -> Iterator[bytes]:
        rng = self.rng
        client, server = self.client(), rng.choice(self.servers)
        https = rng.random() < 0.75
        yield from self.tcp_session(client, server, 443 if https else 80, rng.randint(1, 6),
                                    self.https_round if https else self.http_round)

    def tcp_state(self, client: int, server: int, port: int) -> TcpState:
        return TcpState(self.f, client, server, self.ephemeral(), port,
                        self.rng.getrandbits(32), self.rng.getrandbits(32),
                        self.server_ttl(server))

    def tcp_session(self, client: int, server: int, port: int, rounds: int,
                    exchange: Callable[[TcpState], Iterator[bytes]]) -> Iterator[bytes]:
        state = self.tcp_state(client, server, port)
        yield from state.handshake()
        for _ in range(rounds):
            yield from exchange(state)
        yield from state.close()

    def http_round(self, state: TcpState) -> Iterator[bytes]:
        yield state.send(self.rng.choice(self.http_requests))
        yield state.reply(self.rng.choice(self.http_responses))
        yield state.ack_from_client()

    def https_round(self, state: TcpState) -> Iterator[bytes]:
        rng = self.rng
        yield state.send(rng.choice(self.tls_small))
        if rng.random() < 0.15:  # an upload: the client streams, the server acks
            yield from state.stream(state.send, state.ack_from_server,
                                    [self.full] * rng.randint(2, 10))
        segments = [self.full] * rng.randint(0, 19) + [rng.choice(self.tls_tails)]
        yield from state.stream(state.reply, state.ack_from_client, segments)

    def pmtud(self) -> Iterator[bytes]:
        """A 1500-byte DF segment draws frag-needed (MTU 1400); the client resends it in two
        and keeps its segments under the path MTU from then on."""
        server = self.pmtud_server()
        state = self.tcp_state(self.client(), server, 443)
        yield from state.handshake()
        for n in range(self.rng.randint(1, 3)):
            yield from self.pmtud_round(state, probe=n == 0)
        yield from state.close()

    def pmtud_server(self) -> int:
        return ip(f"10.30.{self.rng.randrange(8)}.{self.rng.randint(1, 254)}")

    def too_big(self, segment: bytes) -> bytes:
        return self.f.icmp_error(ip("10.254.3.1"), segment, 3, 4, rest=PMTU, ttl=254)

    def pmtud_round(self, state: TcpState, probe: bool) -> Iterator[bytes]:
        if probe:
            segment = state.send(self.full, advance=False)
            yield segment
            yield self.too_big(segment)
        yield state.send(self.pmtu_head)
        yield state.send(self.pmtu_tail)
        yield state.ack_from_server()
        yield from state.stream(state.reply, state.ack_from_client,
                                [self.full] * self.rng.randint(1, 4))

    def net_unreachable(self) -> Iterator[bytes]:
        rng, f = self.rng, self.f
        client, target = self.client(), ip(f"198.51.100.{rng.randint(1, 254)}")
        router = rng.choice((GATEWAY, ip("10.254.0.1")))
        sport, seq = self.ephemeral(), rng.getrandbits(32)
        for _ in range(rng.randint(1, 3)):
            syn = f.tcp(client, target, sport, 443, seq, 0, SYN, options=SYN_OPTIONS)
            yield syn
            yield f.icmp_error(router, syn, 3, 0, ttl=255 if router == GATEWAY else 254)

    # UDP
    def dns(self) -> Iterator[bytes]:
        rng, f = self.rng, self.f
        client, resolver = self.client(), rng.choice(self.resolvers)
        query, reply = rng.choice(self.dns_pairs)
        sport, txid = self.ephemeral(), rng.getrandbits(16)
        head = struct.pack("!H", txid)
        yield f.udp(client, resolver, sport, 53, Payload(head + query.data[2:], query.csum + txid))
        yield f.udp(resolver, client, 53, sport, Payload(head + reply.data[2:], reply.csum + txid),
                    ttl=self.server_ttl(resolver))

    def rtp(self) -> Iterator[bytes]:
        rng, f = self.rng, self.f
        near, far = self.client(), self.media_peer()
        # even ports in 42000-44198: no tshark dissector is registered there, unlike 16384-32767
        near_port, far_port = 2 * rng.randint(21000, 22099), 5004
        two_way = rng.random() < 0.5
        pt = rng.choice((0, 8))  # PCMU or PCMA
        ends = [(near, far, near_port, far_port, 64), (far, near, far_port, near_port, 57)]
        state = [[rng.getrandbits(16), rng.getrandbits(32), rng.getrandbits(32)] for _ in ends]
        for n in range(rng.randint(50, 400)):
            side = n & 1 if two_way else 0
            src, dst, sport, dport, ttl = ends[side]
            seq, stamp, ssrc = state[side]
            marker = 0x80 if n < 2 else 0
            head = RTP.pack(0x80, marker | pt, seq, stamp, ssrc)
            extra = (0x8000 | marker | pt) + seq + (stamp >> 16) + (stamp & 0xFFFF) \
                + (ssrc >> 16) + (ssrc & 0xFFFF)
            yield f.udp(src, dst, sport, dport, self.voice[n & 15], extra, head, ttl)
            state[side] = [(seq + 1) & 0xFFFF, (stamp + 160) & 0xFFFFFFFF, ssrc]

    def media_peer(self) -> int:
        return ip(f"203.0.113.{self.rng.randint(1, 254)}")

    def closed_port(self, target: int, port: int, payload: Payload) -> Iterator[bytes]:
        client, sport = self.client(), self.ephemeral()
        for _ in range(self.rng.randint(1, 3)):
            request = self.f.udp(client, target, sport, port, payload)
            yield request
            yield self.port_unreachable(target, request)

    def port_unreachable(self, target: int, request: bytes) -> bytes:
        return self.f.icmp_error(target, request, 3, 3, whole=True, ttl=self.server_ttl(target))

    def tplink_unreachable(self) -> Iterator[bytes]:
        target = ip(f"10.20.9.{self.rng.randint(1, 50)}")
        return self.closed_port(target, 9999, self.tplink)

    def snmp_unreachable(self) -> Iterator[bytes]:
        target = self.snmp_device()
        return self.closed_port(target, 161, Payload.of(snmp_get(self.rng.getrandbits(31))))

    def snmp_device(self) -> int:
        return ip(f"10.1.200.{self.rng.randint(1, 40)}")

    def traceroute(self) -> Iterator[bytes]:
        rng, f = self.rng, self.f
        client, target = self.client(), ip(f"192.0.2.{rng.randint(200, 220)}")
        routers = (GATEWAY, ip("10.254.0.1"), ip("10.254.1.1"))
        sport, dport = self.ephemeral(), 33434
        probe = Payload.of(bytes(range(0x40, 0x60)))
        for hop in range(rng.randint(1, 3)):
            for _ in range(3):
                sent = f.udp(client, target, sport, dport, probe, ttl=hop + 1)
                yield sent
                yield f.icmp_error(routers[hop], sent, 11, 0, ttl=255 - hop)
                dport += 1

    # ICMP echo
    def ping(self) -> Iterator[bytes]:
        rng, f = self.rng, self.f
        client = self.client()
        target = rng.choice(self.servers) if rng.random() < 0.7 else self.client()
        ident = rng.getrandbits(16)
        request, reply = self.echo
        for seq in range(1, rng.randint(1, 5) + 1):
            yield f.icmp(client, target, request, 0, ident << 16 | seq, self.echo_data.data)
            yield f.icmp(target, client, reply, 0, ident << 16 | seq, self.echo_data.data,
                         ttl=self.server_ttl(target))

    def ping_silent(self) -> Iterator[bytes]:
        rng = self.rng
        client, target = self.client(), self.silent_host()
        ident = rng.getrandbits(16)
        for seq in range(1, rng.randint(1, 4) + 1):
            yield self.f.icmp(client, target, self.echo[0], 0, ident << 16 | seq,
                              self.echo_data.data)

    def silent_host(self) -> int:
        return ip(f"10.99.{self.rng.randrange(256)}.{self.rng.randint(1, 254)}")

    # ARP
    def arp_pair(self) -> Iterator[bytes]:
        asker = self.client()
        target = GATEWAY if self.rng.random() < 0.5 else self.client()
        yield self.f.arp(1, asker, target)
        yield self.f.arp(2, target, asker, self.f.mac(asker), self.f.mac(asker))

    def arp_unanswered(self) -> Iterator[bytes]:
        asker, absent = self.client(), ip(f"10.1.250.{self.rng.randint(1, 254)}")
        for _ in range(self.rng.randint(1, 3)):
            yield self.f.arp(1, asker, absent)

    def arp_gratuitous(self) -> Iterator[bytes]:
        host = self.client()
        yield self.f.arp(self.rng.choice((1, 2)), host, host)


class TcpState:
    """One TCP connection's addresses and next sequence numbers, seen from the client side."""

    def __init__(self, f: Frames | Frames6, client: int, server: int, sport: int, dport: int,
                 cseq: int, sseq: int, server_ttl: int) -> None:
        self.f, self.client, self.server = f, client, server
        self.sport, self.dport, self.cseq, self.sseq = sport, dport, cseq, sseq
        self.server_ttl = server_ttl

    def from_client(self, flags: int, payload: Payload = EMPTY,
                    options: Payload = EMPTY) -> bytes:
        return self.f.tcp(self.client, self.server, self.sport, self.dport, self.cseq,
                          self.sseq if flags & ACK else 0, flags, payload, options)

    def from_server(self, flags: int, payload: Payload = EMPTY,
                    options: Payload = EMPTY) -> bytes:
        return self.f.tcp(self.server, self.client, self.dport, self.sport, self.sseq,
                          self.cseq, flags, payload, options, self.server_ttl)

    def handshake(self) -> Iterator[bytes]:
        yield self.from_client(SYN, options=self.f.syn_options)
        self.cseq += 1
        yield self.from_server(SYN | ACK, options=self.f.syn_options)
        self.sseq += 1
        yield self.from_client(ACK)

    def send(self, payload: Payload, advance: bool = True) -> bytes:
        frame = self.from_client(PSH | ACK, payload)
        if advance:
            self.cseq += len(payload.data)
        return frame

    def reply(self, payload: Payload) -> bytes:
        frame = self.from_server(PSH | ACK, payload)
        self.sseq += len(payload.data)
        return frame

    def ack_from_client(self) -> bytes:
        return self.from_client(ACK)

    def ack_from_server(self) -> bytes:
        return self.from_server(ACK)

    def stream(self, send: Callable[[Payload], bytes], ack: Callable[[], bytes],
               segments: list[Payload]) -> Iterator[bytes]:
        """Segments one way, acked every second segment and after the last (delayed ACK)."""
        for n, payload in enumerate(segments, 1):
            yield send(payload)
            if n % 2 == 0 or n == len(segments):
                yield ack()

    def close(self) -> Iterator[bytes]:
        yield self.from_client(FIN | ACK)
        self.cseq += 1
        yield self.from_server(FIN | ACK)
        self.sseq += 1
        yield self.from_client(ACK)


# --- IPv6 ------------------------------------------------------------------------------------

IPV6 = struct.Struct("!IHBB")  # version/class/flow label, payload length, next header, hop limit
ICMP6 = struct.Struct("!BBHI")
ICMP6_PROTO = 58
MSS6 = 1440  # 1500 - 40 (IPv6) - 20 (TCP)
MIN_MTU6 = 1280  # IPv6's minimum link MTU: the Packet Too Big MTU, and the most an error may be
LOW64 = (1 << 64) - 1


def ip6(text: str) -> int:
    return int(ipaddress.IPv6Address(text))


LAN6 = ip6("2001:db8:1::")  # the client LAN, a /64
LINK_LOCAL = ip6("fe80::")
GATEWAY6, GATEWAY6_LL = ip6("2001:db8:1::1"), ip6("fe80::1")
GATEWAY_MAC = b"\x02\x00" + GATEWAY.to_bytes(4)  # the same router as IPv4's 10.1.0.1
ALL_NODES = ip6("ff02::1")
SOLICITED_NODE = ip6("ff02::1:ff00:0")
# routers beyond the gateway, by how many routers lie before them: quoted hop limits are one
# lower per router passed, and so are the hop limits their errors arrive with
CORE6, EDGE6 = ip6("2001:db8:fe::1"), ip6("2001:db8:fe:1::1")
FIREWALL6, SMALL_MTU6, LAST_HOP6 = ip6("2001:db8:fe:99::1"), ip6("2001:db8:fe:3::1"), \
    ip6("2001:db8:fe:77::1")
SYN6_OPTIONS = Payload.of(struct.pack("!BBH", 2, 4, MSS6) + b"\x01\x01\x04\x02")


def eui64(prefix: int, mac: bytes) -> int:
    """The SLAAC address of a MAC in a /64 (modified EUI-64: ff:fe inserted, U/L bit flipped)."""
    iid = bytes([mac[0] ^ 0x02]) + mac[1:3] + b"\xff\xfe" + mac[3:]
    return prefix | int.from_bytes(iid)


class Frames6:
    """Builds IPv6 Ethernet frames (EtherType 0x86DD), with the same TCP/UDP interface as
    Frames; checksums cover the IPv6 pseudo-header (addresses, upper-layer length, next
    header)."""

    syn_options = SYN6_OPTIONS

    def __init__(self) -> None:
        self.macs: dict[int, bytes] = {GATEWAY6: GATEWAY_MAC, GATEWAY6_LL: GATEWAY_MAC}
        self.addrs: dict[int, tuple[bytes, int]] = {}

    def mac(self, address: int) -> bytes:
        """33:33 + the low 32 bits for multicast; on the LAN (or link-local) the MAC behind the
        interface id (EUI-64, or 02:00 + its low 32 bits); the gateway's beyond it."""
        mac = self.macs.get(address)
        if mac is None:
            iid = address & LOW64
            if address >> 120 == 0xFF:
                mac = b"\x33\x33" + (address & 0xFFFFFFFF).to_bytes(4)
            elif address >> 64 not in (LAN6 >> 64, LINK_LOCAL >> 64):
                mac = GATEWAY_MAC
            elif iid >> 24 & 0xFFFF == 0xFFFE:
                mac = ((iid >> 40) ^ 0x020000).to_bytes(3) + (iid & 0xFFFFFF).to_bytes(3)
            else:
                mac = b"\x02\x00" + (iid & 0xFFFFFFFF).to_bytes(4)
            self.macs[address] = mac
        return mac

    def addr(self, address: int) -> tuple[bytes, int]:
        """The address's 16 bytes and their checksum partial sum."""
        found = self.addrs.get(address)
        if found is None:
            packed = address.to_bytes(16)
            found = self.addrs[address] = (packed, sum16(packed))
        return found

    def ipv6(self, src: int, dst: int, next_header: int, body: bytes, hop: int,
             flow: int = 0) -> bytes:
        header = IPV6.pack(0x60000000 | flow, len(body), next_header, hop)
        return (self.mac(dst) + self.mac(src) + b"\x86\xdd" + header + self.addr(src)[0]
                + self.addr(dst)[0] + body)

    def tcp(self, src: int, dst: int, sport: int, dport: int, seq: int, ack: int, flags: int,
            payload: Payload = EMPTY, options: Payload = EMPTY, ttl: int = 64) -> bytes:
        seq &= 0xFFFFFFFF
        ack &= 0xFFFFFFFF
        header_len = 20 + len(options.data)
        length = header_len + len(payload.data)
        offset_flags = header_len << 10 | flags
        window = 64800 if sport > 1024 else 65160
        partial = (self.addr(src)[1] + self.addr(dst)[1] + TCP_PROTO + length + sport + dport
                   + (seq >> 16) + (seq & 0xFFFF) + (ack >> 16) + (ack & 0xFFFF)
                   + offset_flags + window + options.csum + payload.csum)
        header = TCP.pack(sport, dport, seq, ack, offset_flags, window, checksum(partial), 0)
        return self.ipv6(src, dst, TCP_PROTO, header + options.data + payload.data, ttl,
                         flow_label(sport, dport))

    def udp(self, src: int, dst: int, sport: int, dport: int, payload: Payload,
            extra_csum: int = 0, head: bytes = b"", ttl: int = 64) -> bytes:
        length = 8 + len(head) + len(payload.data)
        partial = (self.addr(src)[1] + self.addr(dst)[1] + UDP_PROTO + 2 * length + sport
                   + dport + extra_csum + payload.csum)
        csum = checksum(partial) or 0xFFFF  # over IPv6 the checksum is mandatory: 0 is invalid
        header = UDP.pack(sport, dport, length, csum)
        return self.ipv6(src, dst, UDP_PROTO, header + head + payload.data, ttl,
                         flow_label(sport, dport))

    def icmp(self, src: int, dst: int, kind: int, code: int, rest: int, data: bytes,
             ttl: int = 64) -> bytes:
        """ICMPv6 message; `rest` is the 32-bit field after the checksum (echo id/seq, MTU,
        pointer, NDP flags)."""
        partial = (self.addr(src)[1] + self.addr(dst)[1] + ICMP6_PROTO + 8 + len(data)
                   + (kind << 8 | code) + (rest >> 16) + (rest & 0xFFFF) + sum16(data))
        header = ICMP6.pack(kind, code, checksum(partial), rest)
        return self.ipv6(src, dst, ICMP6_PROTO, header + data, ttl)

    def icmp_error(self, reporter: int, offending: bytes, kind: int, code: int, rest: int = 0,
                   hops: int = 0) -> bytes:
        """ICMPv6 error about an offending frame from a router (or host) `hops` routers beyond
        the capture point, quoting as much of the packet as fits in 1280 bytes (RFC 4443), with
        the hop limit it had there; the error loses as many hops on its way back."""
        quoted = offending[14:14 + MIN_MTU6 - 48]
        if hops:
            quoted = quoted[:7] + bytes([quoted[7] - hops]) + quoted[8:]
        victim = int.from_bytes(quoted[8:24])
        return self.icmp(reporter, victim, kind, code, rest, quoted, 64 - hops)

    def solicit(self, asker: int, target: int) -> bytes:
        """Neighbor Solicitation to the target's solicited-node multicast address, with the
        asker's source link-layer address option."""
        data = self.addr(target)[0] + b"\x01\x01" + self.mac(asker)
        return self.icmp(asker, SOLICITED_NODE | target & 0xFFFFFF, 135, 0, 0, data, 255)

    def advertise(self, target: int, asker: int, router: bool) -> bytes:
        """Solicited Neighbor Advertisement (override set), with the target link-layer address
        option."""
        flags = (0x80000000 if router else 0) | 0x40000000 | 0x20000000  # R, S, O
        data = self.addr(target)[0] + b"\x02\x01" + self.mac(target)
        return self.icmp(target, asker, 136, 0, flags, data, 255)

    def router_advert(self) -> bytes:
        """The gateway's unsolicited Router Advertisement to all nodes: hop limit 64, lifetime
        1800 s, source link-layer address, MTU 1500, prefix 2001:db8:1::/64 (on-link, SLAAC)."""
        data = (struct.pack("!II", 0, 0) + b"\x01\x01" + GATEWAY_MAC
                + struct.pack("!BBHI", 5, 1, 0, 1500)
                + struct.pack("!BBBBIII", 3, 4, 64, 0xC0, 2_592_000, 604_800, 0)
                + LAN6.to_bytes(16))
        return self.icmp(GATEWAY6_LL, ALL_NODES, 134, 0, 64 << 24 | 1800, data, 255)


def neutral_tail(record: bytes) -> bytes:
    """The full-sized segment's payload, with its last word set so that the part a 1280-byte
    Packet Too Big cuts off its quote sums to the length it takes away (ones' complement).
    Wireshark checks a quoted TCP checksum over what is quoted, as if the segment ended there:
    so it is valid both over the whole segment and over the quote."""
    kept = MIN_MTU6 - 48 - 40 - 20  # error headers, quoted IPv6 and TCP headers
    partial = sum16(record[kept:-2]) + len(record) - kept
    return record[:-2] + struct.pack("!H", -partial % 0xFFFF)


def flow_label(sport: int, dport: int) -> int:
    """A flow label per direction of a flow, as Linux derives one from a hash of the flow."""
    return (sport * 0x9E3779B1 ^ dport * 0x85EBCA6B) >> 7 & 0xFFFFF


class Traffic6(Traffic):
    """The IPv6 conversations: the IPv4 ones (same logic, same shared templates) over IPv6
    addresses, plus ICMPv6 errors and Neighbor Discovery. The capture point is the same LAN,
    dual-stack: clients are 2001:db8:1::/64 (SLAAC addresses of the IPv4 clients' MACs),
    servers 2001:db8:20::/48, reached through the gateway (2001:db8:1::1, fe80::1)."""

    def __init__(self, base: Traffic) -> None:  # shares base's templates and random generator
        rng = self.rng = base.rng
        self.f = Frames6()  # type: ignore[assignment]
        self.port = 32768
        self.servers = [ip6(f"2001:db8:20:{rng.randrange(4)}::{rng.randint(1, 0xFFFF):x}")
                        for _ in range(300)]
        self.tls, self.tls_small, self.tls_tails = base.tls, base.tls_small, base.tls_tails
        self.full = Payload.of(neutral_tail(base.full.data[:3] + struct.pack("!H", MSS6 - 5)
                                            + base.full.data[5:MSS6]))
        cut = MIN_MTU6 - 60  # the MSS that fits the 1280-byte path
        self.pmtu_head, self.pmtu_tail = Payload.of(self.full.data[:cut]), \
            Payload.of(self.full.data[cut:])
        self.http_requests = base.http_requests
        self.http_responses = http_responses([240, 512, 777, 1024, 1300, MSS6])
        self.dns_pairs = [dns_pair(f"host{n}.{zone}",
                                   ip6(f"2001:db8:20:{n % 4}::{n + 1:x}").to_bytes(16), 28)
                          for n in range(48) for zone in ("example.com", "example.net")]
        self.resolvers = (ip6("2001:db8:1::53"), ip6("2001:db8:20:53::53"))
        self.voice, self.echo_data = base.voice, base.echo_data
        self.echo = (128, 129)

    # addresses: the IPv4 methods' hooks
    def client(self) -> int:
        mac = b"\x02\x00\x0a\x01" + bytes([self.rng.randint(1, 15), self.rng.randint(1, 254)])
        return eui64(LAN6, mac)

    def server_ttl(self, server: int) -> int:
        return 64 if server >> 64 == LAN6 >> 64 else 64 - 4 - (server & 7)

    def pmtud_server(self) -> int:
        return ip6(f"2001:db8:20:{0x100 + self.rng.randrange(8):x}::{self.rng.randint(1, 254):x}")

    def too_big(self, segment: bytes) -> bytes:
        """Packet Too Big (2/0), MTU 1280, from a router one beyond the gateway."""
        return self.f.icmp_error(SMALL_MTU6, segment, 2, 0, rest=MIN_MTU6, hops=1)

    def media_peer(self) -> int:
        return ip6(f"2001:db8:20:5000::{self.rng.randint(1, 254):x}")

    def port_unreachable(self, target: int, request: bytes) -> bytes:
        """Port unreachable (1/4) from the host itself."""
        return self.f.icmp_error(target, request, 1, 4, hops=64 - self.server_ttl(target))

    def snmp_device(self) -> int:
        return ip6(f"2001:db8:1::c8:{self.rng.randint(1, 40):x}")

    def silent_host(self) -> int:
        return ip6(f"2001:db8:99:{self.rng.randrange(256):x}::{self.rng.randint(1, 254):x}")

    # ICMPv6 errors
    def no_route(self) -> Iterator[bytes]:
        """Destination unreachable, no route (1/0), from the gateway or the core router, to a
        TCP SYN; 1-3 tries."""
        rng, f = self.rng, self.f
        client = self.client()
        target = ip6(f"2001:db8:bad:{rng.randrange(256):x}::{rng.randint(1, 254):x}")
        router, hops = rng.choice(((GATEWAY6, 0), (CORE6, 1)))
        sport, seq = self.ephemeral(), rng.getrandbits(32)
        for _ in range(rng.randint(1, 3)):
            syn = f.tcp(client, target, sport, 443, seq, 0, SYN, options=SYN6_OPTIONS)
            yield syn
            yield f.icmp_error(router, syn, 1, 0, hops=hops)

    def admin_prohibited(self) -> Iterator[bytes]:
        """Administratively prohibited (1/1) from a filtering router, to SYNs for SSH, SMB or
        RDP; 1-3 tries."""
        rng, f = self.rng, self.f
        client, target = self.client(), ip6(f"2001:db8:20:99::{rng.randint(1, 254):x}")
        port = rng.choice((22, 445, 3389))
        sport, seq = self.ephemeral(), rng.getrandbits(32)
        for _ in range(rng.randint(1, 3)):
            syn = f.tcp(client, target, sport, port, seq, 0, SYN, options=SYN6_OPTIONS)
            yield syn
            yield f.icmp_error(FIREWALL6, syn, 1, 1, hops=1)

    def address_unreachable(self) -> Iterator[bytes]:
        """Address unreachable (1/3): the last-hop router finds no neighbor for a pinged host;
        1-3 tries."""
        rng, f = self.rng, self.f
        client, target = self.client(), ip6(f"2001:db8:20:77::{rng.randint(1, 254):x}")
        ident = rng.getrandbits(16)
        for seq in range(1, rng.randint(1, 3) + 1):
            request = f.icmp(client, target, 128, 0, ident << 16 | seq, self.echo_data.data)
            yield request
            yield f.icmp_error(LAST_HOP6, request, 1, 3, hops=2)

    def dns_unreachable(self) -> Iterator[bytes]:
        """AAAA queries to a server that runs no DNS: port unreachable (1/4); 1-3 tries."""
        rng = self.rng
        target = rng.choice(self.servers)
        query, _ = rng.choice(self.dns_pairs)
        txid = rng.getrandbits(16)
        payload = Payload(struct.pack("!H", txid) + query.data[2:], query.csum + txid)
        return self.closed_port(target, 53, payload)

    def traceroute(self) -> Iterator[bytes]:
        """UDP probes to 33434+ with hop limits 1-3, three each: Time Exceeded (3/0) from the
        gateway, the core and the edge router."""
        rng, f = self.rng, self.f
        client, target = self.client(), ip6(f"2001:db8:20:fff::{rng.randint(1, 254):x}")
        sport, dport = self.ephemeral(), 33434
        probe = Payload.of(bytes(range(0x40, 0x60)))
        for hop in range(rng.randint(1, 3)):
            for _ in range(3):
                sent = f.udp(client, target, sport, dport, probe, ttl=hop + 1)
                yield sent
                yield f.icmp_error((GATEWAY6, CORE6, EDGE6)[hop], sent, 3, 0, hops=hop)
                dport += 1

    # Neighbor Discovery
    def nd_pair(self) -> Iterator[bytes]:
        """NS and its NA: a host resolving the gateway's link-local address, the gateway a
        host, or a host another host."""
        rng = self.rng
        pick = rng.random()
        if pick < 0.5:
            asker, target = LINK_LOCAL | self.client() & LOW64, GATEWAY6_LL
        elif pick < 0.8:
            asker, target = GATEWAY6, self.client()
        else:
            asker, target = self.client(), self.client()
        yield self.f.solicit(asker, target)
        yield self.f.advertise(target, asker, router=target == GATEWAY6_LL)

    def nd_unanswered(self) -> Iterator[bytes]:
        """1-3 NS for an absent host in 2001:db8:1::fa:0/112, from the gateway or a host."""
        rng = self.rng
        asker = GATEWAY6 if rng.random() < 0.5 else self.client()
        absent = ip6(f"2001:db8:1::fa:{rng.randint(1, 254):x}")
        for _ in range(rng.randint(1, 3)):
            yield self.f.solicit(asker, absent)

    def router_advert(self) -> Iterator[bytes]:
        yield self.f.router_advert()


# kind: (target share of packets, rough mean packets per conversation)
MIX: dict[str, tuple[float, float]] = {
    "tcp_web": (73.0, 57.5),
    "dns": (6.0, 2.0),
    "rtp": (15.0, 225.0),
    "ping": (1.8, 6.0),
    "ping_silent": (0.4, 2.5),
    "tplink_unreachable": (0.4, 4.0),
    "snmp_unreachable": (0.4, 4.0),
    "net_unreachable": (0.3, 4.0),
    "pmtud": (0.8, 24.0),
    "traceroute": (0.1, 12.0),
    "arp_pair": (1.0, 2.0),
    "arp_unanswered": (0.4, 2.0),
    "arp_gratuitous": (0.1, 1.0),
}

# The IPv6 part, as a share of IPv6 packets: kind: (target share, measured mean packets per
# conversation, Traffic6 method).
MIX6: dict[str, tuple[float, float, str]] = {
    "ipv6_tcp_web": (72.9, 57.2, "tcp_web"),
    "ipv6_dns_aaaa": (6.0, 2.0, "dns"),
    "ipv6_udp_stream": (15.0, 225.0, "rtp"),
    "ipv6_ping": (1.6, 6.0, "ping"),
    "ipv6_ping_silent": (0.4, 2.5, "ping_silent"),
    "ipv6_no_route": (0.3, 4.0, "no_route"),
    "ipv6_admin_prohibited": (0.3, 4.0, "admin_prohibited"),
    "ipv6_address_unreachable": (0.3, 4.0, "address_unreachable"),
    "ipv6_snmp_unreachable": (0.3, 4.0, "snmp_unreachable"),
    "ipv6_dns_unreachable": (0.3, 4.0, "dns_unreachable"),
    "ipv6_packet_too_big": (0.8, 22.0, "pmtud"),
    "ipv6_traceroute": (0.1, 12.0, "traceroute"),
    "ipv6_nd_pair": (1.2, 2.0, "nd_pair"),
    "ipv6_nd_unanswered": (0.4, 2.0, "nd_unanswered"),
    "ipv6_router_advert": (0.05, 1.0, "router_advert"),
}
# Measured mean packets per conversation of each family's mix, conversations drawn by the
# weights above (share / mean): what splits conversations between the families so that
# packets split by --ipv6-share. Measure again (see measure_means) when a mix changes.
MEAN_PACKETS_V4 = 16.78
MEAN_PACKETS_V6 = 16.55


def kind_weights(ipv6_share: float) -> dict[str, float]:
    """The weight by which each conversation kind is drawn. IPv4 alone keeps MIX's weights
    (and so today's captures, byte for byte); with IPv6 each family's weights are scaled to
    give it its share of packets, keeping the proportions within it."""
    v4 = {kind: share / mean for kind, (share, mean) in MIX.items()}
    if not ipv6_share:
        return v4
    v6 = {kind: share / mean for kind, (share, mean, _) in MIX6.items()}
    # conversations of IPv6, as a fraction of all: share·M4 / (share·M4 + (1 - share)·M6)
    conversations6 = ipv6_share * MEAN_PACKETS_V4 / (
        ipv6_share * MEAN_PACKETS_V4 + (1 - ipv6_share) * MEAN_PACKETS_V6)
    total4, total6 = sum(v4.values()), sum(v6.values())
    weights = {kind: (1 - conversations6) * w / total4 for kind, w in v4.items()}
    weights.update((kind, conversations6 * w / total6) for kind, w in v6.items())
    return weights


def starters(rng: random.Random, ipv6_share: float) -> dict[str, Callable[[], Iterator[bytes]]]:
    traffic = Traffic(rng)
    found = {kind: getattr(traffic, kind) for kind in MIX}
    if ipv6_share:
        traffic6 = Traffic6(traffic)
        found.update((kind, getattr(traffic6, method)) for kind, (_, _, method) in MIX6.items())
    return found


def measure_means(conversations: int = 20_000, seed: int = 1) -> None:
    """Print each kind's mean packets per conversation and each family's mean under its
    weights: the figures MIX6, MEAN_PACKETS_V4 and MEAN_PACKETS_V6 hold."""
    rng = random.Random(seed)
    found = starters(rng, 0.5)
    means = {kind: sum(sum(1 for _ in start()) for _ in range(conversations)) / conversations
             for kind, start in found.items()}
    for kind, mean in means.items():
        print(f"{kind:26} {mean:8.2f}")
    for name, mix in (("MEAN_PACKETS_V4", MIX), ("MEAN_PACKETS_V6", MIX6)):
        weights = {kind: entry[0] / (entry[1] or 1) for kind, entry in mix.items()}
        mean = sum(weights[kind] * means[kind] for kind in mix) / sum(weights.values())
        print(f"{name} = {mean:.2f}")


def write_capture(path: Path, packets: int, seed: int = 1,
                  ipv6_share: float = 0.0) -> Counter[str]:
    """Write `packets` frames to `path`, about `ipv6_share` of them IPv6; returns frames
    written per conversation kind."""
    rng = random.Random(seed)
    start = starters(rng, ipv6_share)
    by_kind = kind_weights(ipv6_share)
    kinds, weights = list(by_kind), list(by_kind.values())

    def spawn() -> tuple[str, Iterator[bytes]]:
        kind = rng.choices(kinds, weights)[0]
        return kind, start[kind]()

    pool = [spawn() for _ in range(1 << POOL_BITS)]
    counts: Counter[str] = Counter()
    getrandbits, pack = rng.getrandbits, RECORD.pack
    stamp, written, chunk = START_US, 0, []
    with open(path, "wb") as out:
        out.write(PCAP_HEADER)
        while written < packets:
            slot = getrandbits(POOL_BITS)
            kind, conversation = pool[slot]
            frame = next(conversation, None)
            if frame is None:
                pool[slot] = spawn()
                continue
            stamp += 1 + getrandbits(7)
            size = len(frame)
            chunk.append(pack(stamp // 1_000_000, stamp % 1_000_000, size, size))
            chunk.append(frame)
            counts[kind] += 1
            written += 1
            if len(chunk) >= 32768:  # write in ~10 MB pieces, not per frame
                out.write(b"".join(chunk))
                chunk.clear()
        out.write(b"".join(chunk))
    return counts


def share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text}: not a fraction from 0 to 1")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ipv6-share", type=share, default=0.0, metavar="FRACTION",
                        help="about this fraction of the packets is IPv6 (default 0: IPv4 only)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    counts = write_capture(args.output, args.packets, args.seed, args.ipv6_share)
    elapsed = time.perf_counter() - started
    total = sum(counts.values())
    for kind, count in counts.most_common():
        print(f"{kind:26} {count:9d} {100 * count / total:6.2f}%", file=sys.stderr)
    if args.ipv6_share:
        ipv6 = sum(count for kind, count in counts.items() if kind in MIX6)
        print(f"{'IPv6':26} {ipv6:9d} {100 * ipv6 / total:6.2f}%", file=sys.stderr)
    print(f"wrote {total} packets to {args.output} in {elapsed:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
