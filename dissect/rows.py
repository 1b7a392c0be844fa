"""Turning tshark's output lines (tab-separated field rows, then tap lines) into facts."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from netwhy.dissect.arp import arp_from_row
from netwhy.dissect.facts import Fact, UdpConversation, UdpFirst
from netwhy.dissect.fields import COLUMN, FIELDS
from netwhy.dissect.icmp import icmp_from_row
from netwhy.dissect.prefilter import Stream
from netwhy.dissect.tcp import tcp_from_row
from netwhy.dissect.udp import udp_conversation_from_line, udp_first_from_row

_TOP_PROTOCOL = re.compile(r"^\S+\s+frames:(\d+) bytes:\d+")  # io,phs, no indent
MAX_UDP_KEYS = 200_000  # UDP conversations remembered to join them across streams


@dataclass
class TsharkEnd:
    """How tshark ended a stream (or a live capture): exit status and its last words."""

    returncode: int | None
    stderr_lines: list[str]


@dataclass
class Rows:
    """tshark's lines -> facts, for one pass or stream after stream. What carries over from
    stream to stream: packet count, tshark's exit and words, and UDP conversations (a
    conversation's first datagram is only its first in the earliest stream; its per-stream
    counts add up, and so do the datagrams the prefilter counted without tshark)."""

    packets: int = 0
    ends: list[TsharkEnd] = field(default_factory=list)
    udp_seen: set[tuple[str, int, str, int]] = field(default_factory=set)
    # per conversation: frames a to b, frames b to a, start and duration in nanoseconds
    udp: dict[tuple[str, int, str, int], list] = field(default_factory=dict)

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
                elif top := _TOP_PROTOCOL.match(line):
                    self.packets += int(top[1])
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


def _as_printed(duration_ns: int) -> int:
    """A duration as the conversation tap prints it: seconds to four decimals."""
    return round(float(f"{duration_ns / 1e9:.4f}") * 1e9)


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
