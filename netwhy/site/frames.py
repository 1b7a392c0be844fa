"""The packet-list lines of chosen frames, as tshark shows them, read as data.

One tshark pass with a display filter selecting the frames, `-T ek` (one JSON object per line,
so a capture damaged half-way still yields the rows before the damage) and `-n` (no name
lookups: names would come from the network or from the capture's own name blocks).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

from netwhy import children
from netwhy.errors import TsharkFailed

_FIELDS = {
    "number": "frame.number", "time": "frame.time_relative", "src": "_ws.col.Source",
    "dst": "_ws.col.Destination", "protocol": "_ws.col.Protocol", "length": "frame.len",
    "info": "_ws.col.Info", "comment": "frame.comment",
    # The network-level ends, for the ladder diagrams: the first occurrence is the outer header
    # (an ICMP error's quoted datagram comes second), ARP's addresses are in its own fields.
    "ip_src": "ip.src", "ip_dst": "ip.dst", "arp_op": "arp.opcode",
    "arp_src": "arp.src.proto_ipv4", "arp_dst": "arp.dst.proto_ipv4", "eth_dst": "eth.dst",
}
# Since tshark 4.2 the columns are registered fields of their own: the old names above are
# still accepted by -e, but -T ek prints each under its new name. Whichever key a row has is read.
_NEW_NAMES = {
    "src": "_ws.col.def_src", "dst": "_ws.col.def_dst", "protocol": "_ws.col.protocol",
    "info": "_ws.col.info",
}
TIMEOUT_S = 600


@dataclass(frozen=True)
class FrameRow:
    """One frame's packet-list columns. Every string is the capture's: hostile until escaped."""

    number: int
    time: str
    src: str
    dst: str
    protocol: str
    length: str
    info: str
    comments: tuple[str, ...] = ()
    ip_src: str = ""
    ip_dst: str = ""
    arp_op: str = ""  # "1" a request, "2" a reply
    arp_src: str = ""
    arp_dst: str = ""
    eth_dst: str = ""

    def line(self) -> str:
        """The frame as tshark prints it in its packet list."""
        return (f"{self.number:>5} {self.time:>11} {self.src:>15} → {self.dst:<15} "
                f"{self.protocol} {self.length} {self.info}")


def frame_rows(
    capture: Path, frames: Iterable[int], tshark: str, version: Version
) -> dict[int, FrameRow]:
    wanted = sorted(set(frames))
    if not wanted:
        return {}
    # tshark 4.0 wants commas between set members; older versions wanted spaces.
    separator = "," if version >= Version("4.0") else " "
    display_filter = "frame.number in {" + separator.join(map(str, wanted)) + "}"
    arguments = [tshark, "-n", "-r", str(capture), "-Y", display_filter, "-T", "ek"]
    for field in _FIELDS.values():
        arguments += ["-e", field]
    try:
        done = children.run(arguments, capture_output=True, timeout=TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise TsharkFailed(f"tshark could not list the evidence frames: {error}") from error
    rows = {}
    for raw in done.stdout.splitlines():
        row = _row(raw)
        if row is not None:
            rows[row.number] = row
    if done.returncode != 0 and not rows:
        detail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise TsharkFailed(f"tshark could not list the evidence frames: {detail[0]}")
    return rows  # a damaged capture: the frames before the damage


def _row(raw: bytes) -> FrameRow | None:
    try:
        layers = json.loads(raw).get("layers")
    except ValueError:
        return None  # the last line of a run cut short
    if not isinstance(layers, dict):
        return None  # ek's index lines

    def values(name: str) -> list[str]:
        keys = [_FIELDS[name], _NEW_NAMES.get(name, _FIELDS[name])]
        found = next((layers[k] for k in (k.replace(".", "_") for k in keys) if k in layers), [])
        return [str(value) for value in found] if isinstance(found, list) else [str(found)]

    def first(name: str) -> str:
        return next(iter(values(name)), "")

    try:
        number = int(first("number"))
    except ValueError:
        return None
    time = first("time")
    with contextlib.suppress(ValueError):  # keep tshark's text if it is not a number
        time = f"{float(time):.6f}"
    return FrameRow(number, time, first("src"), first("dst"), first("protocol"), first("length"),
                    first("info"), tuple(values("comment")), first("ip_src"), first("ip_dst"),
                    first("arp_op"), first("arp_src"), first("arp_dst"), first("eth_dst"))
