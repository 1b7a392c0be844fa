"""The prefilter in a process of its own, for large captures.

Walking the file costs Python time, and so does reading tshark's rows: in one process they
would take turns on one core (the GIL). So for a large capture the walk runs in a worker
(`python -m netwhy.dissect.worker`): netwhy passes it the write end of each tshark's standard
input over a socket pair, the worker writes the chosen records straight into it, and before
each write it notes the records' frame numbers in a notes file. A note is therefore always
there by the time tshark's row for its frame reaches netwhy.

The notes file holds 64-bit integers: FRAMES n followed by n frame numbers, FIRST n followed
by n bytes (the capture's first record's time in nanoseconds, as text: odd captures hold times
beyond 64 bits), TAIL frame, END packets done 0 (after each stream: records walked, whether
the walk is done), and, after the last stream,
the conversations the worker counted: UDP n followed by n bytes (a few thousand of them,
each a key's length, the key padded to 36 bytes, and four 64-bit integers: datagrams forward
and backward, earliest and latest time), as often as it takes, then STALLS n followed by n
bytes (the TCP stalls, a JSON list of their fields), then UDP_DONE.
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from netwhy import children
from netwhy.dissect.facts import TcpStall
from netwhy.dissect.prefilter import Counted, Prefilter, Stream, write_all
from netwhy.errors import TsharkFailed

_FRAMES, _FIRST, _TAIL, _END, _UDP, _UDP_DONE, _STALLS = 1, 2, 3, 4, 5, 6, 7
_UDP_BATCH = 4096  # conversations per UDP note
_PAIR = struct.Struct("<qq")  # a note's tag and value; END's last two values
_COUNTED = struct.Struct("<B36sqqqq")  # the key's length, the key (IPv4 or IPv6), counts
_WAIT_S = 0.0005


@dataclass
class RemoteStream(Stream):
    """A stream whose notes arrive from the worker: read when a row needs them."""

    worker: PrefilterWorker | None = None
    first_known: bool = False
    ended: bool = False

    def frame(self, number: int) -> int:
        if number > len(self.frames) and self.tail_from is None:
            assert self.worker is not None
            self.worker.read_notes(lambda: number <= len(self.frames)
                                   or self.tail_from is not None or self.ended)
        return super().frame(number)

    def first(self) -> int | None:
        if not self.first_known:
            assert self.worker is not None
            self.worker.read_notes(lambda: self.first_known or self.ended)
        return self.first_ns


@dataclass
class PrefilterWorker:
    """netwhy's side of the worker; the same calls as a Prefilter used in-process."""

    path: Path
    stream_packets: int
    packets: int = 0
    udp: list[bytes] = field(default_factory=list)  # UDP notes' bodies, as written

    def __post_init__(self) -> None:
        self._notes = tempfile.TemporaryFile(prefix="netwhy-")  # noqa: SIM115 (see close)
        self._read_at = 0
        self._done = False
        self._udp_read = False
        self._stalls: list[TcpStall] = []
        # Streams whose notes are still to come, oldest first: the next one may already be
        # fed while netwhy reads the rows of the one before.
        self._unended: collections.deque[RemoteStream] = collections.deque()
        self._socket, theirs = socket.socketpair()
        try:
            self._process = children.popen(
                [sys.executable, "-m", "netwhy.dissect.worker", str(self.path),
                 str(self.stream_packets), str(theirs.fileno()), str(self._notes.fileno())],
                pass_fds=(theirs.fileno(), self._notes.fileno()),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
        finally:
            theirs.close()

    def done(self) -> bool:
        return self._done

    def new_stream(self) -> RemoteStream:
        stream = RemoteStream(worker=self)
        self._unended.append(stream)
        return stream

    def feed(self, stream: Stream, fd: int) -> None:
        try:
            socket.send_fds(self._socket, [b"s"], [fd])
        except OSError:
            pass  # the worker has gone: finish() says so
        finally:
            os.close(fd)

    def finish(self, stream: Stream) -> None:
        """Wait for the worker's end of this stream."""
        assert isinstance(stream, RemoteStream)
        self.read_notes(lambda: stream.ended)

    def counted(self) -> Iterator[Counted]:
        """The conversations the worker counted, once the last stream has ended."""
        self.read_notes(lambda: self._udp_read)
        for body in self.udp:
            for size, key, *counts in _COUNTED.iter_unpack(body):
                yield (key[:size], *counts)

    def stalls(self) -> Iterator[TcpStall]:
        """The TCP stalls the worker found, once the last stream has ended."""
        self.read_notes(lambda: self._udp_read)
        return iter(self._stalls)

    def close(self) -> None:
        self._socket.close()  # the worker's next receive ends it
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            children.kill(self._process)
            self._process.wait()
        if self._process.stderr:
            self._process.stderr.close()
        self._notes.close()

    # --- notes -------------------------------------------------------------------------------

    def read_notes(self, until: Callable[[], bool]) -> None:
        """Apply the worker's notes until `until()` holds, waiting for those not yet written."""
        while not until():
            if self._read_note():
                continue
            if self._process.poll() is not None and not self._read_note():
                words = self._process.stderr.read().decode("utf-8", "replace").split("\n")
                last = next((line for line in reversed(words) if line.strip()), "")
                detail = last.strip() or f"exit status {self._process.returncode}"
                raise TsharkFailed(f"netwhy's prefilter worker stopped early on {self.path}: "
                                   f"{detail}")
            time.sleep(_WAIT_S)

    def _read_note(self) -> bool:
        """Apply the next complete note, if the worker has written it all."""
        fd = self._notes.fileno()
        head = os.pread(fd, _PAIR.size, self._read_at)
        if len(head) < _PAIR.size:
            return False
        tag, value = _PAIR.unpack(head)
        stream = self._unended[0] if self._unended else None
        if tag in (_FRAMES, _FIRST, _UDP, _STALLS):
            size = value * 8 if tag == _FRAMES else value
            body = os.pread(fd, size, self._read_at + _PAIR.size)
            if len(body) < size:
                return False
            if tag == _FRAMES:
                stream.frames.frombytes(body)
            elif tag == _FIRST:
                stream.first_ns, stream.first_known = int(body) if body else None, True
            elif tag == _STALLS:
                self._stalls = [TcpStall(**{**fields, "frames": tuple(fields["frames"])})
                                for fields in json.loads(body)]
            else:
                self.udp.append(body)
            self._read_at += _PAIR.size + size
            return True
        if tag == _END:
            rest = os.pread(fd, _PAIR.size, self._read_at + _PAIR.size)
            if len(rest) < _PAIR.size:
                return False
            done, _ = _PAIR.unpack(rest)
            self.packets, self._done = value, bool(done)
            stream.ended = True
            self._unended.popleft()
            self._read_at += 2 * _PAIR.size
            return True
        if tag == _TAIL:
            stream.tail_from = value
        elif tag == _UDP_DONE:
            self._udp_read = True
        self._read_at += _PAIR.size
        return True


# --- the worker's side ---------------------------------------------------------------------


class _Publisher:
    """Writes a stream's new notes before each write of its records."""

    def __init__(self, notes: int):
        self._notes = notes
        self._sent = 0
        self._first_sent = self._tail_sent = False

    def __call__(self, stream: Stream) -> None:
        parts = []
        if not self._first_sent and (stream.frames or stream.tail_from is not None):
            first = str(stream.first_ns if stream.first_ns is not None else "").encode()
            parts += [_PAIR.pack(_FIRST, len(first)), first]
            self._first_sent = True
        if len(stream.frames) > self._sent:
            new = stream.frames[self._sent:]
            parts += [_PAIR.pack(_FRAMES, len(new)), new.tobytes()]
            self._sent = len(stream.frames)
        if stream.tail_from is not None and not self._tail_sent:
            parts.append(_PAIR.pack(_TAIL, stream.tail_from))
            self._tail_sent = True
        write_all(self._notes, b"".join(parts))


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is netwhy's to handle
    path, stream_packets, channel, notes = sys.argv[1:5]
    control = socket.socket(fileno=int(channel))
    chooser = Prefilter(Path(path), int(stream_packets))
    try:
        while not chooser.done():
            _, fds, _, _ = socket.recv_fds(control, 16, 1)
            if not fds:
                return  # netwhy closed its end: it has stopped
            chooser.feed(Stream(), fds[0], _Publisher(int(notes)))
            write_all(int(notes), _PAIR.pack(_END, chooser.packets)
                      + _PAIR.pack(chooser.done(), 0))
        conversations = chooser.counted()
        while batch := list(itertools.islice(conversations, _UDP_BATCH)):
            counts = b"".join(_COUNTED.pack(len(key), key, *rest) for key, *rest in batch)
            write_all(int(notes), _PAIR.pack(_UDP, len(counts)) + counts)
        stalls = json.dumps([asdict(stall) for stall in chooser.stalls()]).encode()
        write_all(int(notes), _PAIR.pack(_STALLS, len(stalls)) + stalls)
        write_all(int(notes), _PAIR.pack(_UDP_DONE, 0))
    finally:
        chooser.close()


if __name__ == "__main__":
    main()
