"""Reading a saved capture into facts, streaming.

A small capture is one tshark pass. A large one is cut into chunks of whole packets (chunks.py)
dissected in two lanes at once, one per core: netwhy reads the first half's chunks as tshark
streams them, while a worker process spools the second half's (spool.py). Frame numbers and
times are shifted back to the whole file's, and UDP conversations that cross a chunk boundary
are joined, so the facts are the same as from one pass.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from netwhy.dissect.arp import arp_from_row
from netwhy.dissect.chunks import Chunk, split
from netwhy.dissect.facts import CaptureSummary, Fact, UdpConversation, UdpFirst
from netwhy.dissect.fields import COLUMN, FIELDS
from netwhy.dissect.icmp import icmp_from_row
from netwhy.dissect.spool import ChunkEnd, SpooledLane
from netwhy.dissect.tcp import tcp_from_row
from netwhy.dissect.tshark import FieldsCapture, tshark_path_and_version
from netwhy.dissect.udp import udp_conversation_from_line, udp_first_from_row
from pyshark.capture.capture import TSharkCrashException

from netwhy.errors import EmptyCapture, NotACapture, TsharkFailed, UnreadableInput

# First bytes of the formats netwhy accepts: pcap (both byte orders, micro- and nanosecond),
# pcapng, and either of them gzip-compressed (tshark reads those directly).
_MAGICS = (
    b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d",
    b"\x0a\x0d\x0d\x0a", b"\x1f\x8b",
)
# What tshark says about a file it reads only in part ("The file "NAME" appears to have been cut
# short...", "...cannot be decompressed; it may be damaged or corrupt", "...contains record data
# that TShark doesn't support"), and about one it cannot read at all.
_DAMAGE = ("cut short", "damaged or corrupt", "not a record", "record length", "doesn't support")
_UNKNOWN_FORMAT = "isn't a capture file in a format"
# 'The file "NAME" ': up to the last quote before tshark's verb, which also drops the tail of a
# name that held a newline (and so reached us on a line of its own).
# A chunk arrives on standard input, which tshark calls "The standard input".
_FILE_NAME = re.compile(r"^(?:.*\" |The standard input )(?=(?:appears|cannot|contains|isn't) )")
_TOP_PROTOCOL = re.compile(r"^\S+\s+frames:(\d+) bytes:\d+")  # io,phs, no indent

# Chunks of this many packets keep each tshark's memory flat; below MIN_SPLIT_PACKETS a second
# tshark costs more to start than it saves.
CHUNK_PACKETS = 250_000
MIN_SPLIT_PACKETS = 100_000
MAX_UDP_KEYS = 200_000  # UDP conversations remembered to join them across chunks


def check_capture_file(path: Path) -> None:
    """Refuse, with a one-line reason, anything tshark should not be handed."""
    try:
        # Opening a FIFO would wait for a writer forever; a device or socket is no capture file.
        if path.exists() and not (path.is_file() or path.is_dir()):
            raise UnreadableInput(f"{path}: not a regular file (a pipe, device or socket)")
        with open(path, "rb") as handle:
            head = handle.read(4)
    except IsADirectoryError as error:
        raise UnreadableInput(f"{path}: is a directory, not a capture file") from error
    except FileNotFoundError as error:
        raise UnreadableInput(f"{path}: no such file") from error
    except OSError as error:
        raise UnreadableInput(f"{path}: cannot read: {error.strerror}") from error
    if not head:
        raise NotACapture(f"{path}: empty file (0 bytes), not a capture")
    if not head.startswith(_MAGICS):
        raise NotACapture(f"{path}: not a pcap or pcapng capture")


@dataclass(frozen=True)
class Splitting:
    """How a capture is cut for parallel dissection; `None` instead of one reads it in one pass."""

    chunk_packets: int = CHUNK_PACKETS
    min_packets: int = MIN_SPLIT_PACKETS


class CaptureReader:
    """Checks the file and tshark at once; iterate `facts()` once, and `summary` is filled in
    when the iteration ends."""

    def __init__(self, path: Path | str, splitting: Splitting | None = Splitting()):
        self.path = Path(path)
        self.summary: CaptureSummary | None = None
        self.chunks = 1
        check_capture_file(self.path)
        self._tshark, self._version = tshark_path_and_version()
        self._splitting = splitting if (os.cpu_count() or 1) > 1 else None

    def facts(self) -> Iterator[Fact]:
        chunks = None
        if self._splitting is not None:
            chunks = split(self.path, self._splitting.chunk_packets, parts=2,
                           min_packets=self._splitting.min_packets)
        if chunks is None:
            chunks = [None]
        self.chunks = len(chunks)
        half = len(chunks) // 2 or 1
        state = _Joined()
        background = None
        try:
            if len(chunks) > 1:
                background = SpooledLane(self.path, chunks[half:], self._tshark, self._version)
            for chunk in chunks[:half]:
                yield from state.chunk(chunk, self._stream(chunk, state))
            if background is not None:
                lines = background.lines()
                for chunk in chunks[half:]:
                    yield from state.chunk(chunk, _until_end(lines, state))
            yield from state.conversations()
        finally:
            if background is not None:
                background.close()
        self.summary = _summary(state, str(self._version), self.path)

    def _stream(self, chunk: Chunk | None, state: _Joined) -> Iterator[str]:
        capture = FieldsCapture(self.path, self._tshark, self._version, chunk)
        try:
            for batch in capture.batches():
                yield from batch
        except TSharkCrashException as error:
            raise TsharkFailed(f"tshark failed on {self.path}: {error}") from error
        finally:
            capture.close()
        state.ended(ChunkEnd(capture.returncode, list(capture.stderr_lines)))


def _until_end(lines: Iterator[str | ChunkEnd], state: _Joined) -> Iterator[str]:
    """One spooled chunk's lines; its trailer goes to state."""
    for line in lines:
        if isinstance(line, ChunkEnd):
            state.ended(line)
            return
        yield line


@dataclass
class _Joined:
    """What carries over from chunk to chunk: packet count, tshark's exit and words, and UDP
    conversations (a conversation's first datagram is only its first in the earliest chunk;
    its per-chunk counts add up)."""

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
                row, int(row[frame_column]) + frames, _shifted(float(row[time_column]), shift)
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


def _shifted(seconds: float, shift_ns: int) -> float:
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


def _summary(state: _Joined, version: str, path: Path) -> CaptureSummary:
    errors = [line for end in state.ends for line in end.stderr_lines]
    problem = _file_problem(errors)
    packets = state.packets
    code = next((end.returncode for end in state.ends if end.returncode), state.ends[-1].returncode)
    # A signal means tshark crashed or was killed: even a complete-looking output may lack its
    # end. A file tshark cannot read makes it exit with a status, and says why.
    if code is not None and (code < 0 or (code > 0 and problem is None)):
        detail = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
        if errors:
            detail += f" ({errors[-1]})"
        raise TsharkFailed(f"tshark failed on {path}: {detail}")
    if problem is not None and _unreadable(problem, packets):
        raise NotACapture(f"{path}: not a capture tshark can read: {problem}")
    if packets == 0 and problem is None:
        raise EmptyCapture(f"{path}: capture holds no packets")
    return CaptureSummary(packets=packets, tshark_version=version, truncated=problem)


def _unreadable(problem: str, packets: int) -> bool:
    """Not a format tshark knows, or records it cannot read from the very first one."""
    return _UNKNOWN_FORMAT in problem or (packets == 0 and "doesn't support" in problem)


def _file_problem(errors: list[str]) -> str | None:
    """tshark's words about the file, without its name, with the detail line that follows."""
    for index, line in enumerate(errors):
        if _UNKNOWN_FORMAT in line or any(word in line for word in _DAMAGE):
            found = _FILE_NAME.sub("", line.removeprefix("tshark: ")).strip()
            following = errors[index + 1] if index + 1 < len(errors) else ""
            return f"{found} {following}" if following.startswith("(") else found
    return None
