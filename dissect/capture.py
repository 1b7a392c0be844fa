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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from netwhy.dissect.chunks import Chunk, split
from netwhy.dissect.facts import CaptureSummary, Fact
from netwhy.dissect.rows import ChunkEnd, Rows
from netwhy.dissect.spool import SpooledLane
from netwhy.dissect.tshark import FieldsCapture, tshark_path_and_version
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

# Chunks of this many packets keep each tshark's memory flat; below MIN_SPLIT_PACKETS a second
# tshark costs more to start than it saves.
CHUNK_PACKETS = 250_000
MIN_SPLIT_PACKETS = 100_000


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


PARALLEL = Splitting()


class CaptureReader:
    """Checks the file and tshark at once; iterate `facts()` once, and `summary` is filled in
    when the iteration ends."""

    def __init__(self, path: Path | str, splitting: Splitting | None = PARALLEL):
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
        state = Rows()
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

    def _stream(self, chunk: Chunk | None, state: Rows) -> Iterator[str]:
        capture = FieldsCapture(self.path, self._tshark, self._version, chunk)
        try:
            for batch in capture.batches():
                yield from batch
        except TSharkCrashException as error:
            raise TsharkFailed(f"tshark failed on {self.path}: {error}") from error
        finally:
            capture.close()
        state.ended(ChunkEnd(capture.returncode, list(capture.stderr_lines)))


def _until_end(lines: Iterator[str | ChunkEnd], state: Rows) -> Iterator[str]:
    """One spooled chunk's lines; its trailer goes to state."""
    for line in lines:
        if isinstance(line, ChunkEnd):
            state.ended(line)
            return
        yield line


def _summary(state: Rows, version: str, path: Path) -> CaptureSummary:
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
