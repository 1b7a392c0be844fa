"""Cutting a saved capture into runs of whole packets, so that several tshark processes dissect
it at once (one per core), each over a bounded number of packets and so in bounded memory.

A chunk is a byte range of packet records plus the header that makes it a capture of its own:
the file header for pcap; the section header and the interfaces described so far for pcapng.
Captures this module does not fully understand (gzip, several pcapng sections, simple or
obsolete packet blocks, block types that may be records) are read in one pass, as before.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CHECKPOINT = 10_000  # a chunk may start every this many packets (or every chunk_packets)


@dataclass(frozen=True)
class Chunk:
    prefix: bytes  # the headers that make the range a capture tshark can read
    start: int  # byte offset of the chunk's first record
    end: int  # byte offset just past its last record (end of file for the last chunk)
    first_frame: int  # packets before it: its frame numbers continue from here
    time_shift_ns: int  # its first packet's time minus the capture's first packet's time

    def feed(self, path: Path, fd: int) -> None:
        """Write the chunk, as a capture of its own, into the pipe fd (sendfile: the kernel
        copies, and the file's pages never count against netwhy's memory)."""
        view = memoryview(self.prefix)
        while view:
            view = view[os.write(fd, view):]
        with open(path, "rb") as handle:
            offset = self.start
            while offset < self.end:
                sent = os.sendfile(fd, handle.fileno(), offset, min(self.end - offset, 1 << 22))
                if sent == 0:
                    return  # the file shrank under us: tshark reports the cut
                offset += sent


@dataclass(frozen=True)
class _Checkpoint:
    offset: int
    frame: int  # packets before this offset
    time_ns: int
    prefix: bytes


def split(path: Path, chunk_packets: int, parts: int, min_packets: int) -> list[Chunk] | None:
    """Chunks of about chunk_packets packets (at least `parts` of them, for the cores), or None
    when the capture is better read in one pass: fewer than min_packets, or a layout not
    handled."""
    every = max(1, min(CHECKPOINT, chunk_packets))
    try:
        with open(path, "rb") as handle:
            if handle.read(1) == b"":
                return None
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                walked = _walk(mm, every)
                if walked is None:
                    return None
                checkpoints, total, size = walked
    except (OSError, ValueError):
        return None
    count = max(parts, -(-total // chunk_packets))
    if total < max(min_packets, 2):
        return None
    step = total / count
    chosen: list[_Checkpoint] = []
    for index in range(count):
        wanted = round(index * step)
        point = min(checkpoints, key=lambda c: abs(c.frame - wanted))
        if not chosen or point.frame > chosen[-1].frame:
            chosen.append(point)
    if len(chosen) < 2:
        return None
    first_time = chosen[0].time_ns
    chunks = []
    for index, point in enumerate(chosen):
        last = index == len(chosen) - 1
        end = size if last else chosen[index + 1].offset
        chunks.append(Chunk(point.prefix, point.offset, end, point.frame,
                            point.time_ns - first_time))
    return chunks


_RELEASE_EVERY = 64 << 20
_PCAP_MAGICS = (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d")


def _release(mm: mmap.mmap, start: int, offset: int) -> int:
    """Hand the pages walked so far back: a walk over a large file would otherwise count the
    whole file in netwhy's resident memory."""
    end = offset - offset % mmap.PAGESIZE
    mm.madvise(mmap.MADV_DONTNEED, start, end - start)
    return end


def _walk(mm: mmap.mmap, every: int) -> tuple[list[_Checkpoint], int, int] | None:
    magic = mm[:4]
    if magic in _PCAP_MAGICS:
        return _walk_pcap(mm, every) if len(mm) >= 24 else None
    if magic == b"\x0a\x0d\x0d\x0a":
        return _walk_pcapng(mm, every)
    return None


def _walk_pcap(mm: mmap.mmap, every: int) -> tuple[list[_Checkpoint], int, int]:
    little = mm[:4] in _PCAP_MAGICS[:2]
    nano = mm[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    record = struct.Struct("<IIII" if little else ">IIII")
    prefix, size, scale = mm[:24], len(mm), 1 if nano else 1000
    checkpoints, frame, offset = [], 0, 24
    unpack = record.unpack_from
    released = 0
    while offset + 16 <= size:
        if offset - released > _RELEASE_EVERY:
            released = _release(mm, released, offset)
        seconds, fraction, length, _ = unpack(mm, offset)
        if offset + 16 + length > size or length > 0x4000000:
            break  # a damaged or cut record: what follows goes to the last chunk as it is
        if frame % every == 0:
            time_ns = seconds * 10**9 + fraction * scale
            checkpoints.append(_Checkpoint(offset, frame, time_ns, prefix))
        frame += 1
        offset += 16 + length
    return checkpoints, frame, size


_SHB, _IDB, _EPB, _ISB, _NRB, _DSB = 0x0A0D0D0A, 1, 6, 5, 4, 0x0A
_IF_TSRESOL, _IF_TSOFFSET = 9, 14


def _walk_pcapng(mm: mmap.mmap, every: int) -> tuple[list[_Checkpoint], int, int] | None:
    size = len(mm)
    if size < 12:
        return None
    order = "<" if mm[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    word = struct.Struct(order + "I")
    block = struct.Struct(order + "II")  # type, length
    epb = struct.Struct(order + "III")  # after those: interface, timestamp high, low
    shb_length = word.unpack_from(mm, 4)[0]
    if shb_length < 28 or shb_length > size:
        return None
    header = bytearray(mm[:shb_length])
    interfaces: list[tuple[int, int, int]] = []  # ns = ticks * multiply // divide + offset
    checkpoints, frame, offset = [], 0, shb_length
    released = 0
    while offset + 12 <= size:
        if offset - released > _RELEASE_EVERY:
            released = _release(mm, released, offset)
        kind, length = block.unpack_from(mm, offset)
        if length < 12 or length % 4 or offset + length > size:
            break
        if kind == _EPB:
            if length < 32:
                break  # too short to be one: damage, left to tshark in the last chunk
            interface, high, low = epb.unpack_from(mm, offset + 8)
            if interface >= len(interfaces):
                return None
            if frame % every == 0:
                multiply, divide, shift = interfaces[interface]
                ticks = high << 32 | low
                checkpoints.append(
                    _Checkpoint(offset, frame, ticks * multiply // divide + shift, bytes(header))
                )
            frame += 1
        elif kind == _IDB:
            interfaces.append(_timestamp_options(mm, offset, length, order))
            header += mm[offset:offset + length]
        elif kind not in (_ISB, _NRB, _DSB):
            return None  # another section, or blocks that may be records: one pass
        offset += length
    return checkpoints, frame, size


def _timestamp_options(
    mm: mmap.mmap, offset: int, length: int, order: str
) -> tuple[int, int, int]:
    """An interface's tick length as a fraction of a nanosecond (if_tsresol, default
    microseconds) and its if_tsoffset in nanoseconds: integers, so times stay exact."""
    multiply, divide, shift = 1000, 1, 0
    option = struct.Struct(order + "HH")
    for code, value in _options(mm, offset + 16, offset + length - 4, option):
        if code == _IF_TSRESOL and value:
            exponent = value[0]
            if exponent & 0x80:
                multiply, divide = 10**9, 2 ** (exponent & 0x7F)
            else:
                multiply, divide = 10 ** max(0, 9 - exponent), 10 ** max(0, exponent - 9)
        elif code == _IF_TSOFFSET and len(value) == 8:
            shift = struct.unpack(order + "q", value)[0] * 10**9
    return multiply, divide, shift


def _options(
    mm: mmap.mmap, start: int, end: int, option: struct.Struct
) -> Iterator[tuple[int, bytes]]:
    while start + 4 <= end:
        code, length = option.unpack_from(mm, start)
        if code == 0:
            return
        yield code, bytes(mm[start + 4:start + 4 + length])
        start += 4 + (length + 3) // 4 * 4
