"""ICMP messages (RFC 792) and the datagram an error quotes; ICMP's numbers, named once."""

from __future__ import annotations

import sys

from netwhy.dissect.facts import IcmpMessage, QuotedDatagram
from netwhy.dissect.ip import PROTO_ICMP as _ICMP
from netwhy.dissect.ip import PROTO_TCP as _TCP
from netwhy.dissect.ip import PROTO_UDP as _UDP
from netwhy.dissect.row import Row, address, flag, number, text, values

# Types (RFC 792, 950; IANA's "ICMP Type Numbers").
ECHO_REPLY = 0
UNREACH = 3
SOURCE_QUENCH = 4
REDIRECT = 5
ECHO = 8
TIME_EXCEEDED = 11
PARAMETER_PROBLEM = 12
TIMESTAMP = 13
TIMESTAMP_REPLY = 14
MASK_REQUEST = 17
MASK_REPLY = 18
# Destination unreachable codes netwhy names in code (the knowledge base holds all of them).
UNREACH_PORT = 3
UNREACH_NEEDFRAG = 4

# Types that carry a copy of the datagram that provoked them (RFC 792, RFC 1812 4.3.2.3), by
# the kind of error each is, in words both families share (icmp6.ERROR_KINDS).
ERROR_KINDS = {UNREACH: "unreachable", SOURCE_QUENCH: "source-quench", REDIRECT: "redirect",
               TIME_EXCEEDED: "time-exceeded", PARAMETER_PROBLEM: "parameter-problem"}
ERROR_TYPES = frozenset(ERROR_KINDS)


def is_error(icmp_type: int) -> bool:
    """An error quotes the datagram it is about; queries and replies do not."""
    return icmp_type in ERROR_TYPES


def icmp_from_row(row: Row, frame: int, time: float) -> IcmpMessage | None:
    kind = number(row, "icmp.type")
    code = number(row, "icmp.code")
    addresses = values(row, "ip.src")
    if kind is None or code is None or not addresses:
        return None
    # An error is followed by the header it quotes, dissected by the same ip/tcp/udp/icmp
    # dissectors: the quoted copy is the last IP occurrence, the sender the one before it.
    quoted = _quoted(row, addresses) if is_error(kind) and len(addresses) >= 2 else None
    outer = len(addresses) - (2 if quoted else 1)
    destination = address(row, "ip.dst", outer)
    if destination is None:
        return None  # a header cut short between its source and destination addresses
    return IcmpMessage(
        frame=frame,
        time=time,
        src=sys.intern(addresses[outer]),
        dst=destination,
        ttl=number(row, "ip.ttl", outer),
        type=kind,
        code=code,
        quoted=quoted,
        mtu=number(row, "icmp.mtu"),
        gateway=address(row, "icmp.redir_gw"),
        pointer=number(row, "icmp.pointer"),
        ident=None if quoted else number(row, "icmp.ident"),
        seq=None if quoted else number(row, "icmp.seq"),
        address_mask=text(row, "icmp.address_mask"),
        src_mac=address(row, "eth.src"),
        ip_id=number(row, "ip.id", outer),
        dst_mac=address(row, "eth.dst"),
    )


def _quoted(row: Row, addresses: list[str]) -> QuotedDatagram | None:
    last = len(addresses) - 1
    proto = number(row, "ip.proto", last)
    destination = address(row, "ip.dst", last)
    if proto is None or destination is None:
        return None
    sport = dport = quoted_type = ident = None
    if proto == _TCP:
        sport, dport = number(row, "tcp.srcport", -1), number(row, "tcp.dstport", -1)
    elif proto == _UDP:
        sport, dport = number(row, "udp.srcport", -1), number(row, "udp.dstport", -1)
    elif proto == _ICMP and len(values(row, "icmp.type")) >= 2:
        quoted_type = number(row, "icmp.type", -1)
        ident = number(row, "icmp.ident", 0)
    return QuotedDatagram(
        src=sys.intern(addresses[last]),
        dst=destination,
        proto=proto,
        ttl=number(row, "ip.ttl", last),
        df=flag(row, "ip.flags.df", last),
        ip_id=number(row, "ip.id", last),
        sport=sport,
        dport=dport,
        icmp_type=quoted_type,
        icmp_ident=ident,
    )
