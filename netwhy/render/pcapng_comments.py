"""Adds comments to a pcapng file's packets and to its first section, keeping all that is there.

editcap's `-a FRAME:TEXT` cannot do it on every version: in 4.0 it adds to a frame's comments, in
4.4 it replaces them, and in both a second `-a` for one frame replaces the first. So netwhy
writes the comments itself, into a pcapng file editcap has already written (well formed, whatever
the input was): every block is copied as it is, except that a packet block with comments to add
gets them as further `opt_comment` options after its own, and the first section header gets the
capture comment the same way. Block layout: the pcapng specification (draft-ietf-opsawg-pcapng).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO

SECTION_HEADER = 0x0A0D0D0A
BYTE_ORDER_MAGIC = 0x1A2B3C4D
ENHANCED_PACKET = 6
SIMPLE_PACKET = 3  # no options: a comment cannot be attached
OBSOLETE_PACKET = 2
SYSTEMD_JOURNAL = 9  # a record tshark numbers as a frame, with no options
FRAME_BLOCKS = frozenset({ENHANCED_PACKET, SIMPLE_PACKET, OBSOLETE_PACKET, SYSTEMD_JOURNAL})
SECTION_HEADER_FIXED = 16  # byte-order magic, major and minor version, section length
UNKNOWN_SECTION_LENGTH = b"\xff" * 8
OPT_ENDOFOPT = 0
OPT_COMMENT = 1

COPY_CHUNK = 1 << 20


class MalformedPcapng(ValueError):
    """The file is not the well-formed pcapng this module reads."""


@dataclass(frozen=True)
class Written:
    comments: int  # packet comments written
    unplaced: int  # packet comments for frames that cannot hold one (simple packet blocks)


def add_comments(
    source: BinaryIO,
    target: BinaryIO,
    packet_comments: Mapping[int, Sequence[str]],
    capture_comment: str | None = None,
) -> Written:
    """Copy `source` to `target`, adding each frame's comments (frames numbered from 1, as tshark
    numbers them) and the capture comment to the first section header."""
    frame = 0
    sections = 0
    written = unplaced = 0
    endian = "<"
    while header := source.read(8):
        if len(header) < 8:
            raise MalformedPcapng("the file ends inside a block header")
        section = struct.unpack("<I", header[:4])[0] == SECTION_HEADER  # the same either way
        if section:  # its byte-order magic says how to read its length and what follows
            magic = source.read(4)
            endian = _section_byte_order(magic)
        block_type, length = struct.unpack(endian + "II", header)
        if length < (SECTION_HEADER_FIXED + 12 if section else 12) or length % 4:
            raise MalformedPcapng(f"a block of {length} bytes")
        if section:
            body = magic + _read(source, length - 12)
            # Comments lengthen the section: its length becomes "not given" (-1), as editcap's is.
            body = body[:8] + UNKNOWN_SECTION_LENGTH + body[16:]
            sections += 1
            texts = [capture_comment] if sections == 1 and capture_comment else []
            _write_block(target, endian, block_type,
                         _with_comments(endian, body, SECTION_HEADER_FIXED, texts))
            continue
        if block_type not in FRAME_BLOCKS:
            target.write(header)
            _copy(source, target, length - 8)
            continue
        frame += 1
        texts = packet_comments.get(frame, ())
        if not texts or block_type in (SIMPLE_PACKET, SYSTEMD_JOURNAL):
            unplaced += len(texts)
            target.write(header)
            _copy(source, target, length - 8)
            continue
        body = _read(source, length - 8)
        fixed = _packet_fixed(endian, body)
        _write_block(target, endian, block_type, _with_comments(endian, body, fixed, texts))
        written += len(texts)
    return Written(written, unplaced)


def _section_byte_order(magic: bytes) -> str:
    if magic == struct.pack("<I", BYTE_ORDER_MAGIC):
        return "<"
    if magic == struct.pack(">I", BYTE_ORDER_MAGIC):
        return ">"
    raise MalformedPcapng("a section header without its byte-order magic")


def _packet_fixed(endian: str, body: bytes) -> int:
    """Bytes of a packet block's body before its options: 20 of fixed fields (in an enhanced
    block interface, timestamp, captured and original length; in the obsolete one the same with
    the interface and a drop count in 16 bits each), then the captured data, padded to 4."""
    captured = struct.unpack_from(endian + "I", body, 12)[0]
    end = 20 + captured + (-captured % 4)
    if end > len(body) - 4:
        raise MalformedPcapng("a packet block shorter than its data")
    return end


def _with_comments(endian: str, body: bytes, fixed: int, texts: Sequence[str]) -> bytes:
    """The block's body (its trailing length excluded) with comment options added after the
    block's own options, and the end-of-options marker after them."""
    options = _options_without_end(endian, body[:-4], fixed)
    added = b"".join(_option(endian, OPT_COMMENT, text.encode("utf-8")) for text in texts)
    return body[:fixed] + options + added + struct.pack(endian + "HH", OPT_ENDOFOPT, 0)


def _options_without_end(endian: str, body: bytes, start: int) -> bytes:
    offset = start
    while offset + 4 <= len(body):
        code, size = struct.unpack_from(endian + "HH", body, offset)
        if code == OPT_ENDOFOPT:
            break
        offset += 4 + size + (-size % 4)
    if offset > len(body):
        raise MalformedPcapng("an option runs past the end of its block")
    return body[start:offset]


def _option(endian: str, code: int, value: bytes) -> bytes:
    if len(value) > 0xFFFF:
        value = value[:0xFFFF].decode("utf-8", "ignore").encode("utf-8")
    return struct.pack(endian + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def _write_block(target: BinaryIO, endian: str, block_type: int, body: bytes) -> None:
    length = 8 + len(body) + 4
    target.write(struct.pack(endian + "II", block_type, length) + body
                 + struct.pack(endian + "I", length))


def _read(source: BinaryIO, size: int) -> bytes:
    data = source.read(size)
    if len(data) < size:
        raise MalformedPcapng("the file ends inside a block")
    return data


def _copy(source: BinaryIO, target: BinaryIO, size: int) -> None:
    while size > 0:
        chunk = source.read(min(size, COPY_CHUNK))
        if not chunk:
            raise MalformedPcapng("the file ends inside a block")
        target.write(chunk)
        size -= len(chunk)
