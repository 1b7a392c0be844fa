"""Reading a saved capture into facts, streaming.

The prefilter (prefilter.py) walks the file and hands tshark only the records that can matter,
in streams of a bounded number of records, one tshark each: tshark dissects on one core while
netwhy walks and reads rows on the other, and each tshark's memory stays flat. Frame numbers
and times are the whole file's again, and the UDP datagrams the prefilter counted are added to
tshark's counts, so the facts are the same as from one plain pass (which tests compare).
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pyshark.capture.capture import TSharkCrashException

from netwhy.dissect.facts import CaptureSummary, Fact
from netwhy.dissect.prefilter import Gate, Prefilter, Stream, key_addresses
from netwhy.dissect.rows import Rows, TsharkEnd
from netwhy.dissect.tshark import FieldsCapture, tshark_path, tshark_version
from netwhy.dissect.worker import PrefilterWorker
from netwhy.errors import (
    DamagedCapture,
    EmptyCapture,
    NotACapture,
    TsharkFailed,
    UnreadableInput,
)

# First bytes of the formats netwhy accepts: pcap (both byte orders, micro- and nanosecond),
# pcapng, and either of them gzip-compressed (tshark reads those directly).
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_PCAPNG_LITTLE, _PCAPNG_BIG = b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"  # byte-order magic
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
# A stream arrives on standard input, which tshark calls "The standard input".
_FILE_NAME = re.compile(r"^(?:.*\" |The standard input )(?=(?:appears|cannot|contains|isn't) )")

# Records one tshark reads before the next takes over. tshark needs ~150 MB to start and
# ~0.8 KB per record on top (its conversation tables): ~185 MB at most. A fresh tshark costs
# a fifth of a second to start, mostly hidden by the pipe the prefilter fills meanwhile.
STREAM_PACKETS = 40_000
# From this size on, the prefilter walks the file in a worker process (worker.py), on the
# other core: below it, starting the worker costs more than it saves.
WORKER_MIN_BYTES = 96 << 20


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
    if head == _PCAPNG_MAGIC:
        _check_section_header(path)


def _check_section_header(path: Path) -> None:
    """A pcapng cut inside its first block: tshark would take the rest for another format (a
    "MIME file" of one malformed packet) and report nothing wrong."""
    try:
        with open(path, "rb") as handle:
            block = handle.read(12)
            size = os.fstat(handle.fileno()).st_size
    except OSError as error:
        raise UnreadableInput(f"{path}: cannot read: {error.strerror}") from error
    order = {_PCAPNG_LITTLE: "<", _PCAPNG_BIG: ">"}.get(block[8:12])
    length = struct.unpack(order + "I", block[4:8])[0] if order and len(block) == 12 else 0
    if order is None or length < 28 or size < length:
        raise DamagedCapture(f"{path}: cut short or damaged inside its pcapng section header "
                             "(the file's first block); no packet can be read")


class CaptureReader:
    """Checks the file and tshark at once; iterate `facts()` once, and `summary` is filled in
    when the iteration ends. `prefilter=False` hands tshark the whole file in one pass."""

    def __init__(self, path: Path | str, prefilter: bool = True,
                 stream_packets: int = STREAM_PACKETS, worker: bool | None = None):
        self.path = Path(path)
        self.summary: CaptureSummary | None = None
        self.streams = 0
        check_capture_file(self.path)
        self._tshark = tshark_path()
        # capinfos reads the file while tshark tells its version: a fifth of a second each.
        self._gate = Gate(self.path, self._tshark) if prefilter else None
        try:
            self._version = tshark_version(self._tshark)
        except BaseException:
            if self._gate is not None:
                self._gate.cancel()
            raise
        self._stream_packets = stream_packets
        self._worker = worker  # the prefilter in a process of its own; None: for large files

    def facts(self) -> Iterator[Fact]:
        state = Rows()
        packets = None
        chooser, runs = self._judged_start()
        if chooser is not None:
            handed = 0  # records the prefilter chose, which tshark counts too
            try:
                while runs:
                    run = runs[0]
                    yield from state.stream(run.stream, self._lines(state, run.capture, lambda:
                                                                    self._next(chooser, runs)))
                    self._next(chooser, runs)
                    runs.pop(0)
                    handed += len(run.stream.frames)
                for key, forward, backward, earliest_ns, latest_ns in chooser.counted():
                    state.add_udp(key_addresses(key), forward, backward, earliest_ns, latest_ns)
                yield from chooser.stalls()
            finally:
                for run in runs:  # started, not read to their end
                    run.capture.close()
                chooser.close()
            # The prefilter counts the records it walked; tshark, also those handed as they are.
            # (tshark's hierarchy tap leaves out a packet whose dissection broke off, such as
            # an ICMPv6 error quoting nothing: never fewer than the records walked.)
            packets = chooser.packets + max(0, state.packets - handed)
        else:
            self.streams = 1
            capture = FieldsCapture(self.path, self._tshark, self._version)
            yield from state.stream(None, self._lines(state, capture))
        yield from state.conversations()
        self.summary = _summary(state, str(self._version), self.path, packets,
                                segments_followed=chooser is not None)

    def _judged_start(self) -> tuple[Prefilter | PrefilterWorker | None, list[_Run]]:
        """The prefilter and its first stream, if the Gate lets the prefilter read the file.
        The stream starts before capinfos has answered, so that tshark loads its dissectors
        meanwhile; should capinfos object, it is dropped unread, and tshark reads the whole
        file instead."""
        if self._gate is None or not self._gate.possible():
            return None, []
        in_worker = self._worker
        if in_worker is None:
            in_worker = self.path.stat().st_size >= WORKER_MIN_BYTES and _cores() > 1
        chooser = (PrefilterWorker(self.path, self._stream_packets) if in_worker
                   else Prefilter(self.path, self._stream_packets))
        runs: list[_Run] = []
        suits = False
        try:
            runs.append(self._start(chooser))
            suits = self._gate.suits()
        finally:
            if not suits:
                for run in runs:
                    run.capture.close()
                chooser.close()
                self.streams = 0
        return (chooser, runs) if suits else (None, [])

    def _start(self, chooser: Prefilter | PrefilterWorker) -> _Run:
        stream = chooser.new_stream()
        self.streams += 1
        capture = FieldsCapture(self.path, self._tshark, self._version,
                                lambda fd: chooser.feed(stream, fd))
        capture.start()
        return _Run(stream, capture)

    def _next(self, chooser: Prefilter | PrefilterWorker, runs: list[_Run]) -> None:
        """Once the oldest stream's tshark has exited, start the next stream, if any: the
        fresh tshark loads its dissectors while netwhy reads the rows the last one left, and
        one tshark at a time stays in memory."""
        if len(runs) > 1 or runs[0].next_judged or not runs[0].capture.exited():
            return
        runs[0].next_judged = True
        chooser.finish(runs[0].stream)
        if not chooser.done():
            runs.append(self._start(chooser))

    def _lines(self, state: Rows, capture: FieldsCapture,
               after_batch: Callable[[], None] = lambda: None) -> Iterator[str]:
        try:
            for batch in capture.batches():
                yield from batch
                after_batch()
        except TSharkCrashException as error:
            raise TsharkFailed(f"tshark failed on {self.path}: {error}") from error
        finally:
            capture.close()
        state.ended(TsharkEnd(capture.returncode, list(capture.stderr_lines)))


@dataclass
class _Run:
    """A stream of records and the tshark reading it."""

    stream: Stream
    capture: FieldsCapture
    next_judged: bool = False  # whether the stream after it was started (or none is left)


def _cores() -> int:
    return len(os.sched_getaffinity(0))


def _summary(state: Rows, version: str, path: Path, packets: int | None,
             segments_followed: bool) -> CaptureSummary:
    errors = [line for end in state.ends for line in end.stderr_lines]
    problem = _file_problem(errors)
    packets = state.packets if packets is None else packets
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
    return CaptureSummary(packets=packets, tshark_version=version, truncated=problem,
                          unanalysed=state.unanalysed, segments_followed=segments_followed)


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
