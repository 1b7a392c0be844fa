"""Neighbor Discovery messages (RFC 4861): IPv6's ARP, router discovery and redirects."""

from __future__ import annotations

import sys

from netwhy.dissect import icmp6
from netwhy.dissect.facts import NdpMessage
from netwhy.dissect.row import Row, address, flag, number, text, values


def ndp_from_row(row: Row, frame: int, time: float) -> NdpMessage | None:
    kind = number(row, "icmpv6.type")
    source, destination = address(row, "ipv6.src"), address(row, "ipv6.dst")
    if kind is None or source is None or destination is None:
        return None
    if kind == icmp6.NEIGHBOR_SOLICITATION:
        target = address(row, "icmpv6.nd.ns.target_address")
    elif kind == icmp6.NEIGHBOR_ADVERTISEMENT:
        target = address(row, "icmpv6.nd.na.target_address")
    elif kind == icmp6.REDIRECT:
        target = address(row, "icmpv6.nd.rd.target_address")
    else:
        target = None
    return NdpMessage(
        frame=frame,
        time=time,
        type=kind,
        code=number(row, "icmpv6.code") or 0,
        src=source,
        dst=destination,
        hop_limit=number(row, "ipv6.hlim"),
        src_mac=address(row, "eth.src"),
        target=target,
        destination=address(row, "icmpv6.rd.na.destination_address"),
        link_address=_mac(text(row, "icmpv6.opt.linkaddr")),
        router=bool(flag(row, "icmpv6.nd.na.flag.r")),
        solicited=bool(flag(row, "icmpv6.nd.na.flag.s")),
        override=bool(flag(row, "icmpv6.nd.na.flag.o")),
        router_lifetime=number(row, "icmpv6.nd.ra.router_lifetime"),
        prefixes=tuple(sys.intern(prefix) for prefix in values(row, "icmpv6.opt.prefix")),
        mtu=number(row, "icmpv6.opt.mtu"),
    )


def _mac(found: str | None) -> str | None:
    """tshark prints a link-layer option's bytes as hex ("02:00:5e:...", or "02005e..." for
    some versions): as a MAC address, the way eth.src prints them."""
    if not found:
        return None
    digits = found.replace(":", "").lower()
    if len(digits) != 12:
        return None
    return sys.intern(":".join(digits[i:i + 2] for i in range(0, 12, 2)))
