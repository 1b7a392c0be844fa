"""What `netwhy why` is asked about: HOST, HOST:PORT, HOST:PORT/udp, or a display filter. An
IPv6 host is written as it is (2001:db8::1), or in brackets before a port ([2001:db8::1]:443)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from netwhy import children
from netwhy.errors import BadTarget
from netwhy.expert.report import Conversation

_PORT = r"(?::(?P<port>\d+)(?:/(?P<proto>tcp|udp))?)?"
_ADDRESS = re.compile(rf"^(?P<host>[0-9.]+){_PORT}$")
# Only hex digits, colons and dots: no display filter looks like that.
_ADDRESS6 = re.compile(
    rf"^(?:\[(?P<host>[0-9a-fA-F:.]+)\]{_PORT}|(?P<bare>[0-9a-fA-F.]*:[0-9a-fA-F:.]*))$")


@dataclass(frozen=True)
class Target:
    text: str
    host: str | None = None
    port: int | None = None
    proto: str | None = None
    frames: frozenset[int] | None = None  # frames a display filter selected

    def matches(self, conversation: Conversation) -> bool:
        subject = conversation.subject
        if self.frames is not None:
            return bool(self.frames.intersection(conversation.frames))
        if self.host is not None and not subject.concerns(self.host):
            return False
        if self.port is not None and subject.dport != self.port:
            return False
        return self.proto is None or self.proto in subject.protos


def parse_target(text: str, capture: Path, tshark: str) -> Target:
    found = _ADDRESS.match(text) or _ADDRESS6.match(text)
    if found is None:
        return Target(text, frames=frozenset(_frames_matching(capture, text, tshark)))
    written = found["host"] or found.groupdict().get("bare")
    try:
        host = ip_address_text(written)
    except ValueError as error:
        raise BadTarget(f"not an IP address: {written!r}") from error
    if found.groupdict().get("bare"):
        return Target(text, host=host)
    port = int(found["port"]) if found["port"] else None
    if port is not None and port > 65535:
        raise BadTarget(f"not a port number: {port}")
    return Target(text, host=host, port=port, proto=found["proto"])


def ip_address_text(text: str) -> str:
    """An IPv4 or IPv6 address as tshark writes it (IPv6 compressed, in lower case); ValueError
    for anything else."""
    if ":" in text:
        return ipaddress.IPv6Address(text).compressed
    return str(ipaddress.IPv4Address(text))


def _frames_matching(capture: Path, display_filter: str, tshark: str) -> set[int]:
    # The filter reaches tshark as one argument, never through a shell.
    done = children.run(
        [tshark, "-n", "-r", str(capture), "-Y", display_filter, "-T", "fields",
         "-e", "frame.number"],
        capture_output=True, text=True, errors="replace",
    )
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.startswith("tshark:")]
        detail = lines[0].removeprefix("tshark: ") if lines else "tshark rejected it"
        raise BadTarget(f"not a valid display filter: {detail}")
    return {int(line) for line in done.stdout.split()}
