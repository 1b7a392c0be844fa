"""Write a realistic mixed capture for netwhy's benchmark, fast and deterministically.

Usage: python benchmarks/make_capture.py OUT.pcap [--packets 1000000] [--seed 1]

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
"""

from __future__ import annotations

import argparse
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


def dns_pair(name: str, answer: int) -> tuple[Payload, Payload]:
    """Query and answer for an A record, with the transaction id left 0 (added per packet)."""
    qname = b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"
    question = qname + struct.pack("!HH", 1, 1)
    query = struct.pack("!HHHHHH", 0, 0x0100, 1, 0, 0, 0) + question
    record = struct.pack("!HHHIHI", 0xC00C, 1, 1, 300, 4, answer)
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
        cut = PMTU - 40  # the MSS that fits the 1400-byte path
        self.pmtu_head = Payload.of(self.tls[MSS].data[:cut])
        self.pmtu_tail = Payload.of(self.tls[MSS].data[cut:])
        self.http_requests = http_requests()
        self.http_responses = http_responses([240, 512, 777, 1024, 1300, MSS])
        self.dns_pairs = [dns_pair(f"host{n}.{zone}", ip(f"10.20.{n % 4}.{n + 1}"))
                    for n in range(48) for zone in ("example.com", "example.net")]
        self.voice = [Payload.of(rng.randbytes(160)) for _ in range(16)]
        self.echo_data = Payload.of(bytes(range(0x10, 0x48)))  # 56 bytes, like Linux ping
        self.tplink = Payload.of(tplink_query())

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
                                    [self.tls[MSS]] * rng.randint(2, 10))
        segments = [self.tls[MSS]] * rng.randint(0, 19) + [rng.choice(self.tls_tails)]
        yield from state.stream(state.reply, state.ack_from_client, segments)

    def pmtud(self) -> Iterator[bytes]:
        """A 1500-byte DF segment draws frag-needed (MTU 1400); the client resends it in two
        and keeps its segments under the path MTU from then on."""
        server = ip(f"10.30.{self.rng.randrange(8)}.{self.rng.randint(1, 254)}")
        state = self.tcp_state(self.client(), server, 443)
        yield from state.handshake()
        for n in range(self.rng.randint(1, 3)):
            yield from self.pmtud_round(state, probe=n == 0)
        yield from state.close()

    def pmtud_round(self, state: TcpState, probe: bool) -> Iterator[bytes]:
        big = self.tls[MSS]
        if probe:
            segment = state.send(big, advance=False)
            yield segment
            yield self.f.icmp_error(ip("10.254.3.1"), segment, 3, 4, rest=PMTU, ttl=254)
        yield state.send(self.pmtu_head)
        yield state.send(self.pmtu_tail)
        yield state.ack_from_server()
        yield from state.stream(state.reply, state.ack_from_client,
                                [self.tls[MSS]] * self.rng.randint(1, 4))

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
        client, resolver = self.client(), rng.choice((ip("10.1.0.53"), ip("192.0.2.53")))
        query, reply = rng.choice(self.dns_pairs)
        sport, txid = self.ephemeral(), rng.getrandbits(16)
        head = struct.pack("!H", txid)
        yield f.udp(client, resolver, sport, 53, Payload(head + query.data[2:], query.csum + txid))
        yield f.udp(resolver, client, 53, sport, Payload(head + reply.data[2:], reply.csum + txid),
                    ttl=self.server_ttl(resolver))

    def rtp(self) -> Iterator[bytes]:
        rng, f = self.rng, self.f
        near, far = self.client(), ip(f"203.0.113.{rng.randint(1, 254)}")
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

    def closed_port(self, target: int, port: int, payload: Payload) -> Iterator[bytes]:
        client, sport = self.client(), self.ephemeral()
        for _ in range(self.rng.randint(1, 3)):
            request = self.f.udp(client, target, sport, port, payload)
            yield request
            yield self.f.icmp_error(target, request, 3, 3, whole=True,
                                    ttl=self.server_ttl(target))

    def tplink_unreachable(self) -> Iterator[bytes]:
        target = ip(f"10.20.9.{self.rng.randint(1, 50)}")
        return self.closed_port(target, 9999, self.tplink)

    def snmp_unreachable(self) -> Iterator[bytes]:
        target = ip(f"10.1.200.{self.rng.randint(1, 40)}")
        return self.closed_port(target, 161, Payload.of(snmp_get(self.rng.getrandbits(31))))

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
        for seq in range(1, rng.randint(1, 5) + 1):
            yield f.icmp(client, target, 8, 0, ident << 16 | seq, self.echo_data.data)
            yield f.icmp(target, client, 0, 0, ident << 16 | seq, self.echo_data.data,
                         ttl=self.server_ttl(target))

    def ping_silent(self) -> Iterator[bytes]:
        rng = self.rng
        client, target = self.client(), ip(f"10.99.{rng.randrange(256)}.{rng.randint(1, 254)}")
        ident = rng.getrandbits(16)
        for seq in range(1, rng.randint(1, 4) + 1):
            yield self.f.icmp(client, target, 8, 0, ident << 16 | seq, self.echo_data.data)

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

    def __init__(self, f: Frames, client: int, server: int, sport: int, dport: int,
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
        yield self.from_client(SYN, options=SYN_OPTIONS)
        self.cseq += 1
        yield self.from_server(SYN | ACK, options=SYN_OPTIONS)
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


def write_capture(path: Path, packets: int, seed: int = 1) -> Counter[str]:
    """Write `packets` frames to `path`; returns frames written per conversation kind."""
    rng = random.Random(seed)
    traffic = Traffic(rng)
    kinds = list(MIX)
    weights = [share / mean for share, mean in MIX.values()]
    starters = {kind: getattr(traffic, kind) for kind in kinds}

    def spawn() -> tuple[str, Iterator[bytes]]:
        kind = rng.choices(kinds, weights)[0]
        return kind, starters[kind]()

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    counts = write_capture(args.output, args.packets, args.seed)
    elapsed = time.perf_counter() - started
    total = sum(counts.values())
    for kind, count in counts.most_common():
        print(f"{kind:20} {count:9d} {100 * count / total:6.2f}%", file=sys.stderr)
    print(f"wrote {total} packets to {args.output} in {elapsed:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
