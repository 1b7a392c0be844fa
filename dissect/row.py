"""Reading one tshark row: a list of strings, one per field in FIELDS."""

from __future__ import annotations

import sys

from netwhy.dissect.fields import COLUMN

Row = list[str]


def values(row: Row, field: str) -> list[str]:
    """Every occurrence of a field, outermost first ("" means absent)."""
    text = row[COLUMN[field]]
    return text.split(",") if text else []


def text(row: Row, field: str, index: int = 0) -> str | None:
    found = row[COLUMN[field]]
    if "," not in found:  # one occurrence (or none), as in most rows
        return found or None if index in (0, -1) else None
    try:
        return found.split(",")[index] or None
    except IndexError:
        return None


def address(row: Row, field: str, index: int = 0) -> str | None:
    """An address field. The same few addresses recur row after row, and observations keep
    one per conversation: one shared copy of each keeps them small."""
    found = text(row, field, index)
    return None if found is None else sys.intern(found)


def number(row: Row, field: str, index: int = 0) -> int | None:
    """An integer field; tshark prints some in hex (ip.id, tcp.flags)."""
    found = text(row, field, index)
    if found is None:
        return None
    try:
        return int(found, 16) if found.startswith("0x") else int(found)
    except ValueError:
        return None


def flag(row: Row, field: str, index: int = 0) -> bool | None:
    found = text(row, field, index)
    if found is None:
        return None
    return found in ("1", "True")


def ip_addresses(row: Row) -> tuple[str | None, str | None]:
    """The innermost IPv4 addresses of a TCP or UDP row, else its innermost IPv6 ones."""
    if row[COLUMN["ip.src"]]:
        return address(row, "ip.src", -1), address(row, "ip.dst", -1)
    return address(row, "ipv6.src", -1), address(row, "ipv6.dst", -1)
