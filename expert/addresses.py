"""Address hints for rules that cannot know a segment's real mask from the wire."""

from __future__ import annotations

import ipaddress
import itertools

HINT_PREFIX = 24  # the narrowest subnet most LANs use; conclusions built on it are hints


def same_subnet(a: str, b: str, prefix: int = HINT_PREFIX) -> bool:
    try:
        network = ipaddress.IPv4Network(f"{a}/{prefix}", strict=False)
        return ipaddress.IPv4Address(b) in network
    except ValueError:
        return False


def is_multicast_or_broadcast(address: str) -> bool:
    try:
        parsed = ipaddress.IPv4Address(address)
    except ValueError:
        return False
    return parsed.is_multicast or address == "255.255.255.255"


def is_sweep(targets: set[str]) -> bool:
    """Most targets sit next to another target: someone walking through an address range."""
    try:
        numbers = sorted(int(ipaddress.IPv4Address(t)) for t in targets)
    except ValueError:
        return False
    if len(numbers) < 8:
        return False
    adjacent = sum(1 for a, b in itertools.pairwise(numbers) if b - a == 1)
    return adjacent >= len(numbers) // 2
