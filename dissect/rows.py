"""Turning tshark's output lines (tab-separated field rows, then tap lines) into facts."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from netwhy.dissect.arp import arp_from_row
from netwhy.dissect.chunks import Chunk
from netwhy.dissect.facts import Fact, UdpConversation, UdpFirst
from netwhy.dissect.fields import COLUMN, FIELDS
from netwhy.dissect.icmp import icmp_from_row
from netwhy.dissect.tcp import tcp_from_row
from netwhy.dissect.udp import udp_conversation_from_line, udp_first_from_row

_TOP_PROTOCOL = re.compile(r"^\S+\s+frames:(\d+) bytes:\d+")  # io,phs, no indent
MAX_UDP_KEYS = 200_000  # UDP conversations remembered to join them across chunks


@dataclass
class ChunkEnd:
    """How tshark ended a chunk (or a live capture): exit status and its last words."""

    returncode: int | None
    stderr_lines: list[str]


@dataclass
class Rows:
    """tshark's lines -> facts, for one pass or chunk after chunk. What carries over from chunk
    to chunk: packet count, tshark's exit and words, and UDP conversations (a conversation's
    first datagram is only its first in the earliest chunk; its per-chunk counts add up)."""

    packets: int = 0
    ends: list[ChunkEnd] = field(default_factory=list)
    udp_seen: set[tuple[str, int, str, int]] = field(default_factory=set)
    # per conversation: frames a to b, frames b to a, start and duration in nanoseconds
    udp: dict[tuple[str, int, str, int], list] = field(default_factory=dict)

    def chunk(self, chunk: Chunk | None, lines: Iterable[str]) -> Iterator[Fact]:
        frames = chunk.first_frame if chunk else 0
        shift = chunk.time_shift_ns if chunk else 0
        width = len(FIELDS)
        frame_column, time_column = COLUMN["frame.number"], COLUMN["frame.time_relative"]
        for line in lines:
            row = line.split("\t")
            if len(row) != width:
                if (conversation := udp_conversation_from_line(line)) is not None:
                    self._count(conversation, shift)
                elif top := _TOP_PROTOCOL.match(line):
                    self.packets += int(top[1])
                continue
            fact = _fact_from_row(
                row, int(row[frame_column]) + frames, shifted(float(row[time_column]), shift)
            )
            if isinstance(fact, UdpFirst) and not self._first(fact):
                continue
            if fact is not None:
                yield fact

    def ended(self, end: ChunkEnd) -> None:
        self.ends.append(end)

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
        duration = round(c.duration * 1e9)
        key, back = (c.a, c.a_port, c.b, c.b_port), (c.b, c.b_port, c.a, c.a_port)
        if key not in self.udp and back in self.udp:
            key, forward, backward = back, c.frames_b_to_a, c.frames_a_to_b
        else:
            forward, backward = c.frames_a_to_b, c.frames_b_to_a
        known = self.udp.get(key)
        if known is None:
            self.udp[key] = [forward, backward, start, duration]
            return
        end = max(known[2] + known[3], start + duration)
        known[0] += forward
        known[1] += backward
        known[2] = min(known[2], start)
        # As the tap prints a duration: to a tenth of a millisecond.
        known[3] = round((end - known[2]) / 100_000) * 100_000

    def conversations(self) -> Iterator[UdpConversation]:
        # The tap's own order: busiest first.
        busiest = sorted(self.udp.items(), key=lambda item: -(item[1][0] + item[1][1]))
        for (a, a_port, b, b_port), (forward, backward, start, duration) in busiest:
            yield UdpConversation(
                a, a_port, b, b_port, forward, backward, start / 1e9, duration / 1e9
            )


def shifted(seconds: float, shift_ns: int) -> float:
    """A chunk's time as the whole file's, exactly: tshark prints at most nanoseconds, so the
    sum in integer nanoseconds rounds to the very float a single pass would have read."""
    return (round(seconds * 1e9) + shift_ns) / 1e9 if shift_ns else seconds


def _fact_from_row(row: list[str], frame: int, time: float) -> Fact | None:
    if row[COLUMN["arp.opcode"]]:
        return arp_from_row(row, frame, time)
    if row[COLUMN["icmp.type"]]:
        return icmp_from_row(row, frame, time)
    if row[COLUMN["tcp.flags"]]:
        return tcp_from_row(row, frame, time)
    if row[COLUMN["udp.srcport"]]:
        return udp_first_from_row(row, frame, time)
    return None
