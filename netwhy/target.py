"""What `netwhy why` is asked about: HOST, HOST:PORT, HOST:PORT/udp, or a display filter."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from netwhy import children
from netwhy.errors import BadTarget
from netwhy.expert.report import Conversation

_ADDRESS = re.compile(r"^(?P<host>[0-9.]+)(?::(?P<port>\d+)(?:/(?P<proto>tcp|udp))?)?$")


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
    found = _ADDRESS.match(text)
    if found is None:
        return Target(text, frames=frozenset(_frames_matching(capture, text, tshark)))
    try:
        host = str(ipaddress.IPv4Address(found["host"]))
    except ValueError as error:
        raise BadTarget(f"not an IPv4 address: {found['host']!r}") from error
    port = int(found["port"]) if found["port"] else None
    if port is not None and port > 65535:
        raise BadTarget(f"not a port number: {port}")
    return Target(text, host=host, port=port, proto=found["proto"])


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
