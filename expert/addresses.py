"""Address hints for rules that cannot know a segment's real mask from the wire."""

from __future__ import annotations

import functools
import ipaddress
import itertools
import socket

HINT_PREFIX = 24  # the narrowest subnet most LANs use; conclusions built on it are hints


def same_subnet(a: str, b: str, prefix: int = HINT_PREFIX) -> bool:
    first, second = _number(a), _number(b)
    if first is None or second is None:
        return False
    return first >> (32 - prefix) == second >> (32 - prefix)


def subnet_of(address: str, prefix: int = HINT_PREFIX) -> int | None:
    """The address's network under the hint mask, as a number (None: not an address)."""
    number = _number(address)
    return None if number is None else number >> (32 - prefix)


def shared_prefix(a: str, b: str) -> int:
    """How many leading bits two addresses share (0 if either is not an address)."""
    first, second = _number(a), _number(b)
    if first is None or second is None:
        return 0
    return 32 - (first ^ second).bit_length()


def is_multicast_or_broadcast(address: str) -> bool:
    if ":" in address:  # IPv6 has no broadcast; multicast is ff00::/8 (RFC 4291 2.7)
        return address[:2].lower() == "ff"
    number = _number(address)
    return number is not None and (number >> 28 == 0xE or number == 0xFFFFFFFF)


@functools.lru_cache(maxsize=65_536)  # a busy capture asks about the same hosts again and again
def _number(address: str) -> int | None:
    try:  # strict dotted quad, as tshark prints it; ten times faster than ipaddress
        return int.from_bytes(socket.inet_pton(socket.AF_INET, address), "big")
    except (OSError, ValueError):  # not an address; or a NUL in it
        return None


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
