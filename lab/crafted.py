"""Scapy-made captures for Destination Unreachable messages that Linux never sends on its own.

Linux's routing and transport code has no path that emits some codes (only an nftables
``reject with icmp <code>`` rule could, which is no realistic cause), and never puts some
header values into the ones it sends. Such exchanges are built by hand, one
:class:`Crafted` per capture in :data:`CRAFTED`: the client's request to
a remote server, then a router's ICMP 3/code back to the client quoting the request's IP
header and first 8 bytes, exactly as sent. Each capture holds two attempts one second apart,
as a client retrying would make. Times, addresses and IDs are fixed, so regenerating gives
the same bytes.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.sendrecv import send
from scapy.supersocket import L3RawSocket
from scapy.utils import wrpcapng

CLIENT_MAC = "02:00:00:00:00:0a"
ROUTER_MAC = "02:00:00:00:00:01"
CLIENT = "192.0.2.10"
ROUTER = "192.0.2.1"  # the client's gateway, which is the router refusing to forward
SERVER = "198.51.100.20"
START = 1_700_000_000.0  # fixed capture time, for byte-identical regeneration
ICMP_DELAY_S = 0.0004


@dataclass(frozen=True)
class Crafted:
    """One capture. The mappings are scapy field values (``IP(tos=...)``, ``ICMP(nexthopmtu=...)``)
    set on top of the defaults in :func:`request` and :func:`unreachable`, so a new message needs
    a new entry here and no new code."""

    name: str
    code: int
    description: str
    proto: str  # "udp" (a DNS query) or "tcp" (a SYN)
    dport: int
    ip: Mapping[str, Any] = field(default_factory=dict)  # the request's IP header, as quoted
    transport: Mapping[str, Any] = field(default_factory=dict)  # its UDP or TCP header
    icmp: Mapping[str, Any] = field(default_factory=dict)  # the error's ICMP header

    @property
    def condition(self) -> str:
        return "icmp.unreachable." + self.name


CRAFTED = [
    Crafted("net-unknown", 6, "router says the destination network is unknown (DNS query)",
            "udp", 53),
    Crafted("host-unknown", 7, "router says the destination host is unknown (HTTPS SYN)",
            "tcp", 443),
    Crafted("source-isolated", 8, "router says the source host is isolated (DNS query)",
            "udp", 53),
    # RFC 1349 TOS values, the kind of request a TOS-aware router would refuse.
    Crafted("net-tos", 11, "network unreachable for the requested TOS (low-delay SSH SYN)",
            "tcp", 22, ip={"tos": 0x10}),
    Crafted("host-tos", 12, "host unreachable for the requested TOS (throughput rsync SYN)",
            "tcp", 873, ip={"tos": 0x08}),
    # Precedence 6 (internetwork control) is what BGP speakers set; a policy can forbid it.
    Crafted("precedence-violation", 14, "precedence not permitted for this flow (BGP SYN)",
            "tcp", 179, ip={"tos": 0xC0}),
    # Routine precedence falls under a router's precedence cut-off.
    Crafted("precedence-cutoff", 15, "precedence below the router's cut-off (HTTP SYN)",
            "tcp", 80),
    # Linux never names a next hop narrower than IPv4's 68-byte floor.
    Crafted("bogus-mtu", 4, "fragmentation needed with a next-hop MTU of 40 bytes (DNS query)",
            "udp", 53, icmp={"nexthopmtu": 40}),
]


def request(spec: Crafted, attempt: int) -> Packet:
    """The client's packet for ``attempt`` (0, 1, ...): a retry reuses port, sequence and name."""
    # The spec's fields come last, so they replace a default or add a field.
    ip = IP(**{"src": CLIENT, "dst": SERVER, "id": 0x4A10 + attempt, "ttl": 64, "flags": "DF",
               **spec.ip})
    if spec.proto == "udp":
        query = DNS(id=0x1D2C, rd=1, qd=DNSQR(qname="example.com"))
        l4 = UDP(**{"sport": 41000, "dport": spec.dport, **spec.transport}) / query
    else:
        l4 = TCP(**{"sport": 51000, "dport": spec.dport, "flags": "S", "seq": 0x1A2B3C4D,
                    "window": 64240,
                    "options": [("MSS", 1460), ("SAckOK", b""),
                                ("Timestamp", (3_000_000 + attempt, 0)), ("NOP", None),
                                ("WScale", 7)],
                    **spec.transport})
    return Ether(src=CLIENT_MAC, dst=ROUTER_MAC) / ip / l4


def unreachable(spec: Crafted, req: Packet, attempt: int) -> Packet:
    """The router's ICMP 3/code quoting the request's IP header plus 8 bytes (RFC 792)."""
    sent = IP(bytes(req[IP]))  # rebuilt from bytes, so checksum and header length are filled in
    quote = bytes(sent)[: sent.ihl * 4 + 8]
    # TOS 0xC0 and a fresh TTL are what routers put on the errors they originate.
    icmp = IP(src=ROUTER, dst=CLIENT, id=0x0B00 + attempt, ttl=255, tos=0xC0)
    # Type and code are the spec's identity (its condition and scenario): not overridable.
    icmp /= ICMP(type=3, code=spec.code, **spec.icmp)
    return Ether(src=ROUTER_MAC, dst=CLIENT_MAC) / icmp / Raw(quote)


def write(spec: Crafted, out: Path) -> list[Path]:
    packets = []
    for attempt in range(2):
        req = request(spec, attempt)
        req.time = START + attempt
        err = unreachable(spec, req, attempt)
        err.time = req.time + ICMP_DELAY_S
        packets += [req, err]
    out.parent.mkdir(parents=True, exist_ok=True)
    wrpcapng(str(out), packets)
    return [out]


def save(out: Path, timed: Sequence[tuple[float, Packet]]) -> list[Path]:
    """Write packets at fixed offsets (seconds) from START, so regenerating gives the same bytes."""
    packets = []
    for offset, pkt in timed:
        pkt.time = START + offset
        packets.append(pkt)
    out.parent.mkdir(parents=True, exist_ok=True)
    wrpcapng(str(out), packets)
    return [out]


def serve_send() -> None:
    """Send each IP datagram given as a hex line on stdin with scapy's send(); print "sent".

    Run inside a namespace (``python crafted.py send``) so the datagrams leave through that
    namespace's kernel: the raw IP socket (IP_HDRINCL) has the kernel route them and resolve
    the next hop with its own ARP, while scapy supplies every header byte as built.
    """
    sock = L3RawSocket()  # opened once, so each send is immediate
    print("ready", flush=True)
    for line in sys.stdin:
        datagram = bytes.fromhex(line.strip())
        pkt = IP(datagram)
        # Dissected packets rebuild from their cached bytes; make sure nothing was "fixed".
        if bytes(pkt) != datagram:
            raise ValueError("scapy would not send the datagram byte for byte")
        send(pkt, socket=sock, verbose=False)
        print(f"sent {len(datagram)} bytes", flush=True)


if __name__ == "__main__":
    if sys.argv[1:] != ["send"]:
        sys.exit("usage: crafted.py send  (hex IP datagrams on stdin, one a line)")
    serve_send()
