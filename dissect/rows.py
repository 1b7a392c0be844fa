"""Turning tshark's output lines (tab-separated field rows, then tap lines) into facts."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from netwhy.dissect import icmp6
from netwhy.dissect.arp import arp_from_row
from netwhy.dissect.facts import Fact, UdpConversation, UdpFirst, Unanalysed
from netwhy.dissect.fields import COLUMN, FIELDS
from netwhy.dissect.icmp import icmp_from_row
from netwhy.dissect.icmp6 import icmp6_from_row
from netwhy.dissect.ndp import ndp_from_row
from netwhy.dissect.prefilter import Stream
from netwhy.dissect.tcp import tcp_from_row
from netwhy.dissect.udp import udp_conversation_from_line, udp_first_from_row

# io,phs: a heading, "Filter: ..." (nothing for the whole capture's), then one line per
# protocol, two spaces deeper per layer ("..." past 16 layers), up to a line of "=".
_HIERARCHY = "Protocol Hierarchy Statistics"
_PROTOCOL = re.compile(r"^( *)(\.\.\.)?(\S+?)\s*frames:(\d+) bytes:\d+$")
_CUT_SHORT = "_ws.short"  # tshark's "packet size limited during capture"
MAX_UDP_KEYS = 200_000  # UDP conversations remembered to join them across streams


@dataclass
class TsharkEnd:
    """How tshark ended a stream (or a live capture): exit status and its last words."""

    returncode: int | None
    stderr_lines: list[str]


@dataclass
class Rows:
    """tshark's lines -> facts, for one pass or stream after stream. What carries over from
    stream to stream: packet count, the packets no rule can judge, tshark's exit and words,
    and UDP conversations (a
    conversation's first datagram is only its first in the earliest stream; its per-stream
    counts add up, and so do the datagrams the prefilter counted without tshark)."""

    packets: int = 0
    unanalysed: Unanalysed = field(default_factory=Unanalysed)  # what no rule can judge
    ends: list[TsharkEnd] = field(default_factory=list)
    udp_seen: set[tuple[str, int, str, int]] = field(default_factory=set)
    # per conversation: frames a to b, frames b to a, start and duration in nanoseconds
    udp: dict[tuple[str, int, str, int], list] = field(default_factory=dict)
    _hierarchy: _Hierarchy | None = field(default=None, init=False, repr=False)  # being read

    def stream(self, stream: Stream | None, lines: Iterable[str]) -> Iterator[Fact]:
        """Facts from one tshark's lines: of the whole file (stream None), or of a stream of
        records the prefilter chose, whose frame numbers and times are the file's again."""
        frame_of = stream.frame if stream else int
        width = len(FIELDS)
        frame_column, time_column = COLUMN["frame.number"], COLUMN["frame.time_relative"]
        epoch_column = COLUMN["frame.time_epoch"]
        for line in lines:
            row = line.split("\t")
            if len(row) != width:
                if (conversation := udp_conversation_from_line(line)) is not None:
                    # The tap's times start at tshark's first record, like its rows' times.
                    self._count(conversation, (stream.shift_ns or 0) if stream else 0)
                else:
                    self._hierarchy_line(line)
                continue
            frame = frame_of(int(row[frame_column]))  # first: it waits for the stream's notes
            if stream is None:
                time = float(row[time_column])
            else:
                time = stream.time(row[epoch_column], row[time_column])
            fact = _fact_from_row(row, frame, time)
            if isinstance(fact, UdpFirst) and not self._first(fact):
                continue
            if fact is not None:
                yield fact

    def ended(self, end: TsharkEnd) -> None:
        self.ends.append(end)

    def _hierarchy_line(self, line: str) -> None:
        """A line of an io,phs tap: the whole capture's adds its top layer up to the packet
        count, the one of packets no rule can judge (fields.NOT_ANALYSED) says why not."""
        if line == _HIERARCHY:
            self._hierarchy = _Hierarchy()
            return
        hierarchy = self._hierarchy
        if hierarchy is None:
            return
        if hierarchy.filtered is None and line.startswith("Filter:"):
            hierarchy.filtered = bool(line.removeprefix("Filter:").strip())
        elif protocol := _PROTOCOL.match(line):
            depth = len(protocol[1]) // 2 + (1 if protocol[2] else 0)
            hierarchy.add(depth, protocol[3], int(protocol[4]))
        elif line.startswith("=") and hierarchy.filtered is not None:
            self._hierarchy = None
            if hierarchy.filtered:
                self.unanalysed = _added(self.unanalysed, hierarchy.unanalysed())
            else:
                self.packets += sum(top.frames for top in hierarchy.top)

    def _first(self, fact: UdpFirst) -> bool:
        key = (fact.src, fact.sport, fact.dst, fact.dport)
        if key in self.udp_seen or (fact.dst, fact.dport, fact.src, fact.sport) in self.udp_seen:
            return False
        if len(self.udp_seen) < MAX_UDP_KEYS:
            self.udp_seen.add(key)
        return True

    def _count(self, conversation: UdpConversation, shift: int) -> None:
        c = conversation
        start = round(c.start * 1e9) + shift
        self.add_udp((c.a, c.a_port, c.b, c.b_port), c.frames_a_to_b, c.frames_b_to_a,
                     start, start + round(c.duration * 1e9), printed=True)

    def add_udp(self, key: tuple[str, int, str, int], forward: int, backward: int,
                start_ns: int, end_ns: int, printed: bool = False) -> None:
        """Datagrams of one conversation (`forward`: from key's first address), counted by a
        tap or by the prefilter, added to what is known of it. `printed`: end_ns is the
        tap's, whose duration is already rounded as the tap prints it."""
        a, a_port, b, b_port = key
        back = (b, b_port, a, a_port)
        if key not in self.udp and back in self.udp:
            key, forward, backward = back, backward, forward
        known = self.udp.get(key)
        if known is None:
            duration = end_ns - start_ns if printed else _as_printed(end_ns - start_ns)
            self.udp[key] = [forward, backward, start_ns, duration]
            return
        end = max(known[2] + known[3], end_ns)
        known[0] += forward
        known[1] += backward
        known[2] = min(known[2], start_ns)
        known[3] = _as_printed(end - known[2])

    def conversations(self) -> Iterator[UdpConversation]:
        # Busiest first, as the tap lists them; then by time and address, so that the order
        # does not depend on how the counts were gathered.
        busiest = sorted(self.udp.items(), key=lambda item: (-(item[1][0] + item[1][1]),
                                                             item[1][2], item[0]))
        for (a, a_port, b, b_port), (forward, backward, start, duration) in busiest:
            yield UdpConversation(
                a, a_port, b, b_port, forward, backward, start / 1e9, duration / 1e9
            )


@dataclass
class _Layer:
    """One line of an io,phs tap: a protocol, the packets that reach it, the layers above."""

    name: str
    frames: int
    above: list[_Layer] = field(default_factory=list)


@dataclass
class _Hierarchy:
    """One io,phs tap as it is read."""

    filtered: bool | None = None  # None: its "Filter:" line is still to come
    top: list[_Layer] = field(default_factory=list)
    _path: list[_Layer] = field(default_factory=list)  # the latest layer and those below it

    def add(self, depth: int, name: str, frames: int) -> None:
        layer = _Layer(name, frames)
        del self._path[depth:]
        (self._path[-1].above if self._path else self.top).append(layer)
        self._path.append(layer)

    def unanalysed(self) -> Unanalysed:
        """The tap of packets no rule can judge, by reason: the first network layer of each
        decides (IP and ARP are there only when cut short), and a packet cut before any
        is cut short too; the rest are other protocols, each named by its last layer."""
        found = {"cut": 0}
        other: Counter[str] = Counter()
        for top in self.top:
            _sort(top, 0, top.name, found, other)
        return Unanalysed(found["cut"], _busiest(other))


_NETWORK_REASONS = {"ip": "cut", "ipv6": "cut", "arp": "cut"}


def _sort(layer: _Layer, depth: int, below: str, found: dict[str, int],
          other: Counter[str]) -> None:
    """Count the packets that reach `layer` (at `depth`, above a layer named `below`)."""
    reason = _NETWORK_REASONS.get(layer.name)
    if reason is None and layer.name == _CUT_SHORT and depth <= 1:
        reason = "cut"  # before or right after the link layer's header
    if reason is not None:
        found[reason] += layer.frames
        return
    if layer.name.startswith("_ws.") or layer.name == "data":
        other[below] += layer.frames  # cut, malformed or not dissected: named by its carrier
        return
    ending = layer.frames - sum(above.frames for above in layer.above)
    if ending > 0:
        other[layer.name] += ending
    for above in layer.above:
        _sort(above, depth + 1, layer.name, found, other)


def _added(known: Unanalysed, more: Unanalysed) -> Unanalysed:
    other = Counter(dict(known.other))
    other.update(dict(more.other))
    return Unanalysed(known.cut + more.cut, _busiest(other))


def _busiest(counts: Counter[str]) -> tuple[tuple[str, int], ...]:
    """Most packets first, then by name: the same however the packets were split in streams."""
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _as_printed(duration_ns: int) -> int:
    """A duration as the conversation tap prints it: seconds to four decimals."""
    return round(float(f"{duration_ns / 1e9:.4f}") * 1e9)


def _fact_from_row(row: list[str], frame: int, time: float) -> Fact | None:
    if row[COLUMN["arp.opcode"]]:
        return arp_from_row(row, frame, time)
    if row[COLUMN["icmp.type"]]:
        return icmp_from_row(row, frame, time)
    if kind := row[COLUMN["icmpv6.type"]]:
        outer = int(kind.partition(",")[0])
        if outer in icmp6.NDP_TYPES:
            return ndp_from_row(row, frame, time)
        if outer in icmp6.MULTICAST_LISTENER:
            return None
        return icmp6_from_row(row, frame, time)
    if row[COLUMN["tcp.flags"]]:
        return tcp_from_row(row, frame, time)
    if row[COLUMN["udp.srcport"]]:
        return udp_first_from_row(row, frame, time)
    return None
