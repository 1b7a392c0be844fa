"""ICMPv6 messages (RFC 4443) and the datagram an error quotes; ICMPv6's numbers, named once.
Neighbor Discovery's messages are ICMPv6 too, and have a module of their own (ndp.py)."""

from __future__ import annotations

import sys

from netwhy.dissect.facts import IcmpMessage, QuotedDatagram
from netwhy.dissect.ip import PROTO_ICMPV6 as _ICMPV6
from netwhy.dissect.ip import PROTO_TCP as _TCP
from netwhy.dissect.ip import PROTO_UDP as _UDP
from netwhy.dissect.row import Row, address, number, values

# Types (RFC 4443, IANA's "ICMPv6 'type' Numbers"): 0-127 errors, 128-255 informational.
UNREACH = 1
PACKET_TOO_BIG = 2
TIME_EXCEEDED = 3
PARAMETER_PROBLEM = 4
ECHO = 128
ECHO_REPLY = 129
# Multicast listener queries and reports (RFC 2710, 3810): the background chatter of every
# IPv6 link, about group membership, which no failed conversation leaves behind.
MULTICAST_LISTENER = frozenset({130, 131, 132, 143})
# Neighbor Discovery (RFC 4861): router solicitation and advertisement, neighbor
# solicitation and advertisement, redirect.
ROUTER_SOLICITATION, ROUTER_ADVERTISEMENT = 133, 134
NEIGHBOR_SOLICITATION, NEIGHBOR_ADVERTISEMENT = 135, 136
REDIRECT = 137
NDP_TYPES = frozenset(range(ROUTER_SOLICITATION, REDIRECT + 1))
# Time Exceeded codes
HOP_LIMIT_EXCEEDED = 0
REASSEMBLY_TIMEOUT = 1
# Destination Unreachable codes netwhy names in code (the knowledge base holds all of them).
UNREACH_ADDRESS = 3
UNREACH_PORT = 4

# The errors RFC 4443 defines, by the kind of error each is (icmp.ERROR_KINDS' words).
ERROR_KINDS = {UNREACH: "unreachable", PACKET_TOO_BIG: "too-big", TIME_EXCEEDED: "time-exceeded",
               PARAMETER_PROBLEM: "parameter-problem"}
ERROR_TYPES = frozenset(ERROR_KINDS)


def is_error(icmp_type: int) -> bool:
    """An error (types 0-127) quotes the datagram it is about."""
    return icmp_type < 128


def icmp6_from_row(row: Row, frame: int, time: float) -> IcmpMessage | None:
    """An ICMPv6 message other than Neighbor Discovery's (ndp.py) and multicast listener
    chatter: the outer header is the first IPv6 occurrence, a quoted one the last."""
    kind = number(row, "icmpv6.type")
    code = number(row, "icmpv6.code")
    sources = values(row, "ipv6.src")
    if kind is None or code is None or not sources:
        return None
    quoted = _quoted(row, sources) if is_error(kind) and len(sources) >= 2 else None
    destination = address(row, "ipv6.dst")
    if destination is None:
        return None
    return IcmpMessage(
        frame=frame,
        time=time,
        src=sys.intern(sources[0]),
        dst=destination,
        ttl=number(row, "ipv6.hlim"),
        type=kind,
        code=code,
        quoted=quoted,
        mtu=number(row, "icmpv6.mtu"),
        pointer=number(row, "icmpv6.pointer"),
        ident=None if quoted else number(row, "icmpv6.echo.identifier"),
        seq=None if quoted else number(row, "icmpv6.echo.sequence_number"),
        src_mac=address(row, "eth.src"),
        dst_mac=address(row, "eth.dst"),
        family=6,
    )


def _quoted(row: Row, sources: list[str]) -> QuotedDatagram | None:
    last = len(sources) - 1
    destination = address(row, "ipv6.dst", last)
    if destination is None:
        return None
    # The transport is what follows the extension headers: its fields, when tshark found any
    # (an error's own header has none), else the last next header tshark read.
    sport = dport = quoted_type = ident = seq = None
    if (tcp := number(row, "tcp.srcport", -1)) is not None:
        proto, sport, dport = _TCP, tcp, number(row, "tcp.dstport", -1)
    elif (udp := number(row, "udp.srcport", -1)) is not None:
        proto, sport, dport = _UDP, udp, number(row, "udp.dstport", -1)
    elif len(values(row, "icmpv6.type")) >= 2:
        proto, quoted_type = _ICMPV6, number(row, "icmpv6.type", -1)
        ident = number(row, "icmpv6.echo.identifier", 0)
        seq = number(row, "icmpv6.echo.sequence_number", 0)
    else:
        proto = number(row, "ipv6.nxt", -1)
        if proto is None:
            return None
    return QuotedDatagram(
        src=sys.intern(sources[last]),
        dst=destination,
        proto=proto,
        ttl=number(row, "ipv6.hlim", last),
        df=None,
        ip_id=None,
        sport=sport,
        dport=dport,
        icmp_type=quoted_type,
        icmp_ident=ident,
        icmp_seq=seq,
    )
