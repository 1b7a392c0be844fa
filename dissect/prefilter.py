"""Choosing, before tshark, the packets that can matter.

Dissecting is what costs, and on a busy link nearly every packet is bulk data that netwhy only
counts. So netwhy walks the capture's records itself, reads a few header bytes of each, and
hands tshark only what its display filter could let through (ICMP, ARP, TCP segments that open
or reset a connection, the first datagram of each UDP conversation) and everything it cannot
classify for certain (other link types and encapsulations, fragments, IP options, tunnels).
The UDP datagrams it keeps from tshark it counts itself, per conversation, for the same
figures tshark's conversation tap gives. IPv6 is walked the same way, past its extension
headers.

tshark reads the chosen records through a pipe, in streams of at most `stream_packets`
records: a fresh tshark per stream keeps its memory flat however long the capture. A stream
remembers which frame of the whole file each of its records is, and its times are taken from
tshark's absolute ones, so facts carry the file's own frame numbers and times.

The prefilter only takes files that Wireshark's own file library reads from end to end as plain
pcap or pcapng (`Gate`, by capinfos: a tenth of a second per million packets). A damaged file
goes to tshark whole, as before: wiretap reads a damaged pcap differently from a file than
from a pipe (it may even take it for another pcap flavour), and the damage must be reported
where tshark finds it. Should a layout still not be understood (another pcapng section, simple
or obsolete packet blocks), the rest of the file goes to tshark as it is.
"""

from __future__ import annotations

import mmap
import os
import socket
import struct
import subprocess
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from netwhy import children
from netwhy.dissect.ethernet import ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN
from netwhy.dissect.facts import TcpStall
from netwhy.dissect.fields import FRAME_CARRYING_TCP_PORTS, FRAME_CARRYING_UDP_PORTS
from netwhy.dissect.ip import PROTO_TCP, PROTO_UDP
from netwhy.dissect.tcp_segments import SegmentTracker

MAX_UDP_CONVERSATIONS = 200_000  # counted here; past this, tshark sees and counts the rest
MAX_RECORD = 262_144  # wiretap refuses longer packets in most link types: damage for us too
MAX_BLOCK = 16 << 20  # a longer pcapng block is damage to wiretap too
_FLUSH = 1 << 16  # bytes gathered before one write into tshark's pipe
_RELEASE_EVERY = 2 << 20  # bytes walked before their pages are handed back

# Link types whose headers netwhy reads: where the network header starts, and how its type
# is told. Others are handed to tshark whole.
_ETHERNET, _SLL, _SLL2, _RAW, _IPV4, _IPV6 = 1, 113, 276, 101, 228, 229
_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1000), b"\xa1\xb2\xc3\xd4": (">", 1000),
    b"\x4d\x3c\xb2\xa1": ("<", 1), b"\xa1\xb2\x3c\x4d": (">", 1),
}
SHB, IDB, EPB, ISB, NRB, DSB = 0x0A0D0D0A, 1, 6, 5, 4, 0x0A
IF_TSRESOL, IF_TSOFFSET = 9, 14


_PLAIN_TYPES = ("pcap", "nsecpcap", "pcapng")  # capinfos -t: the layouts the walk reads


class Gate:
    """Whether capinfos (beside tshark) reads the whole file, uncompressed, as plain pcap or
    pcapng without an error: started at once, so that it reads while netwhy does other work,
    and asked with `suits()`."""

    def __init__(self, path: Path, tshark_path: str):
        self._process: subprocess.Popen | None = None
        capinfos = Path(tshark_path).with_name("capinfos")
        try:
            with open(path, "rb") as handle:
                if handle.read(2) == b"\x1f\x8b":
                    return  # gzip: tshark reads it, the walk does not
            self._process = children.popen(
                [str(capinfos), "-T", "-t", "-r", str(path)], stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, text=True, errors="replace")
        except OSError:
            pass

    def possible(self) -> bool:
        """False at once for what the walk never reads (gzip), or if capinfos cannot run."""
        return self._process is not None

    def suits(self) -> bool:
        if self._process is None:
            return False
        try:
            out, _ = self._process.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            self.cancel()
            return False
        return self._process.returncode == 0 and out.rstrip("\n").split("\t")[-1] in _PLAIN_TYPES

    def cancel(self) -> None:
        if self._process is not None and self._process.poll() is None:
            children.kill(self._process)
            self._process.communicate()


@dataclass
class Stream:
    """The records one tshark reads."""

    frames: array = field(default_factory=lambda: array("q"))  # the file's frame numbers
    tail_from: int | None = None  # the file's frame number of the first record handed as is
    first_ns: int | None = None  # the capture's first record's time (None: tshark reads it)
    shift_ns: int | None = None  # this tshark's first record's time, from the capture's first

    def frame(self, number: int) -> int:
        """The file's frame number of tshark's frame `number` in this stream."""
        if number <= len(self.frames):
            return self.frames[number - 1]
        assert self.tail_from is not None, "tshark read more records than it was given"
        return self.tail_from + number - len(self.frames) - 1

    def first(self) -> int | None:
        return self.first_ns

    def time(self, epoch: str, relative: str) -> float:
        """A record's time from the capture's first record, as one pass over the whole file
        gives it: from its absolute time, exactly (tshark's relative times start at whichever
        record it read first). The first row also tells where that record lies."""
        first = self.first()
        if first is None:
            return float(relative)
        at = nanoseconds(epoch)
        if self.shift_ns is None:
            self.shift_ns = at - nanoseconds(relative) - first
        return (at - first) / 1_000_000_000  # integers: correctly rounded, as float() would


def nanoseconds(text: str) -> int:
    """tshark's "-12.345678901" as an exact number of nanoseconds."""
    negative = text.startswith("-")
    whole, _, fraction = text.lstrip("-").partition(".")
    value = int(whole or 0) * 1_000_000_000 + int((fraction + "000000000")[:9])
    return -value if negative else value


@dataclass(slots=True)
class UdpCount:
    """Datagrams of one conversation that tshark never saw: added to its tap's counts."""

    forward: int = 0  # in the direction of the conversation's first datagram
    backward: int = 0
    earliest_ns: int | None = None  # from the capture's first record (out of order: min, max)
    latest_ns: int | None = None


# A conversation the prefilter counted datagrams of: its key, datagrams forward and backward,
# and the earliest and latest of their times.
Counted = tuple[bytes, int, int, int, int]


@dataclass(slots=True)
class Counters:
    """What the walk counts and follows in the records it keeps from tshark."""

    udp: dict[bytes, UdpCount]
    tcp: SegmentTracker


class Prefilter:
    """Walks one capture: each `feed` writes the next stream's records into a pipe, noting
    their frames in a Stream."""

    def __init__(self, path: Path, stream_packets: int):
        self._file = open(path, "rb")  # noqa: SIM115 (closed by close())
        self._mm = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        self._stream_packets = stream_packets
        self.packets = 0  # records walked (frames)
        self.udp: dict[bytes, UdpCount] = {}  # key: src, dst, sport, dport of the first datagram
        self.tcp = SegmentTracker()
        self._counters = Counters(self.udp, self.tcp)
        self._offset = 0
        self._released = 0
        self._first_ns: int | None = None
        self._verbatim = False  # from _offset on, the file goes to tshark as it is
        self._done = False
        self._header = b""
        self._read_header()

    # --- streams -----------------------------------------------------------------------------

    def done(self) -> bool:
        return self._done

    def new_stream(self) -> Stream:
        return Stream()

    def finish(self, stream: Stream) -> None:
        """Nothing to wait for: the feeding thread has noted everything once tshark is done."""

    def counted(self) -> Iterator[Counted]:
        """The conversations with datagrams counted (not only the first, which tshark saw)."""
        for key, count in self.udp.items():
            if count.forward or count.backward:
                yield key, count.forward, count.backward, count.earliest_ns, count.latest_ns

    def stalls(self) -> Iterator[TcpStall]:
        """The TCP connections whose data stopped getting through (tcp_segments.py)."""
        return self.tcp.stalls()

    def feed(self, stream: Stream, fd: int,
             publish: Callable[[Stream], None] | None = None) -> None:
        """Write the next stream's records into fd (and close it), noting each one's frame.
        `publish` is told of the stream's notes before each write that tshark may read."""
        out = bytearray(self._header)

        def write() -> None:
            stream.first_ns = self._first_ns
            if publish is not None:
                publish(stream)
            write_all(fd, out)
            out.clear()

        try:
            if not self._verbatim:
                walk = self._walk_pcapng if self._pcapng else self._walk_pcap
                walk(stream, out, write)
            if self._verbatim and not self._done:
                stream.tail_from = self.packets + 1
                write()
                self._send_rest(fd)
                self._done = True
            write()
        except OSError:
            self._done = True  # tshark stopped reading: its exit status says why
        finally:
            os.close(fd)

    def close(self) -> None:
        self._mm.close()
        self._file.close()

    # --- pcap --------------------------------------------------------------------------------

    def _read_header(self) -> None:
        mm = self._mm
        magic = mm[:4]
        if magic in _PCAP_MAGICS and len(mm) >= 24:
            self._pcapng = False
            self._order, self._scale = _PCAP_MAGICS[magic]
            self._header = mm[:24]
            self._offset = 24
            self._link = struct.unpack_from(self._order + "I", mm, 20)[0] & 0xFFFF
            return
        self._pcapng = True
        self._interfaces: list[tuple[int, int, int, int]] = []  # link, multiply, divide, shift
        if magic != b"\x0a\x0d\x0d\x0a" or len(mm) < 28:
            self._verbatim = True  # gzip, or too short to be anything: tshark judges
            return
        self._order = "<" if mm[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
        length = struct.unpack_from(self._order + "I", mm, 4)[0]
        if length < 28 or length > min(len(mm), MAX_BLOCK):
            self._verbatim = True
            return
        self._header = mm[:length]
        self._offset = length

    def _walk_pcap(self, stream: Stream, out: bytearray, write: Callable[[], None]) -> None:
        mm, size = self._mm, len(self._mm)
        record = struct.Struct(self._order + "IIII")
        unpack = record.unpack_from
        wanted = classifier(self._link, self._counters)
        scale, frames = self._scale, stream.frames
        offset, frame = self._offset, self.packets
        first, release_at = self._first_ns, self._released + _RELEASE_EVERY
        try:
            while offset + 16 <= size:
                seconds, fraction, length, _ = unpack(mm, offset)
                end = offset + 16 + length
                if end > size or length > MAX_RECORD:
                    self._verbatim = True
                    return
                time_ns = seconds * 1_000_000_000 + fraction * scale
                if first is None:
                    first = self._first_ns = time_ns
                time_ns -= first
                frame += 1
                if wanted(mm, offset + 16, length, time_ns, frame) and self._chosen(
                        frames, out, write, frame, mm[offset:end]):
                    offset = end
                    return
                offset = end
                if offset > release_at:
                    self._release(offset)
                    release_at = offset + _RELEASE_EVERY
            if offset < size:
                self._verbatim = True  # a few bytes too short for a record header
        finally:
            self._offset, self.packets = offset, frame
            self._done = offset >= size and not self._verbatim

    def _chosen(self, frames: array, out: bytearray, write: Callable[[], None], frame: int,
                record: bytes) -> bool:
        """Hand tshark this record; True when the stream is full."""
        frames.append(frame)
        out += record
        if len(out) >= _FLUSH:
            write()
        return len(frames) >= self._stream_packets

    # --- pcapng ------------------------------------------------------------------------------

    def _walk_pcapng(self, stream: Stream, out: bytearray, write: Callable[[], None]) -> None:
        mm, size, order = self._mm, len(self._mm), self._order
        block = struct.Struct(order + "II").unpack_from  # type, length
        epb = struct.Struct(order + "IIII").unpack_from  # interface, time high, low, length
        trailer = struct.Struct(order + "I").unpack_from
        frames, interfaces = stream.frames, self._interfaces
        classifiers = [classifier(link, self._counters) for link, *_ in interfaces]
        offset, frame = self._offset, self.packets
        first, release_at = self._first_ns, self._released + _RELEASE_EVERY
        try:
            while offset + 12 <= size:
                kind, length = block(mm, offset)
                end = offset + length
                if (length < 12 or length % 4 or end > size or length > MAX_BLOCK
                        or trailer(mm, end - 4)[0] != length):
                    self._verbatim = True
                    return
                if kind == EPB:
                    if length < 32:
                        self._verbatim = True
                        return
                    interface, high, low, captured = epb(mm, offset + 8)
                    if (interface >= len(interfaces) or captured > MAX_RECORD
                            or captured > length - 32):
                        self._verbatim = True
                        return
                    _, multiply, divide, shift = interfaces[interface]
                    if divide == 1:  # decimal resolutions: no division
                        time_ns = ((high << 32) | low) * multiply + shift
                    else:
                        time_ns = ((high << 32) | low) * multiply // divide + shift
                    if first is None:
                        first = self._first_ns = time_ns
                    time_ns -= first
                    frame += 1
                    chosen = classifiers[interface](mm, offset + 28, captured, time_ns, frame)
                    if chosen and self._chosen(frames, out, write, frame, mm[offset:end]):
                        offset = end
                        return
                elif kind == IDB:
                    if length < 20:
                        self._verbatim = True
                        return
                    described = self._interface(offset, length)
                    interfaces.append(described)
                    classifiers.append(classifier(described[0], self._counters))
                    self._header += mm[offset:end]
                    out += mm[offset:end]
                elif kind not in (ISB, NRB, DSB):
                    # Another section, simple or obsolete packet blocks, or a block type that
                    # may be a record: tshark reads the rest as it is.
                    self._verbatim = True
                    return
                offset = end
                if offset > release_at:
                    self._release(offset)
                    release_at = offset + _RELEASE_EVERY
            if offset < size:
                self._verbatim = True
        finally:
            self._offset, self.packets = offset, frame
            self._done = offset >= size and not self._verbatim

    def _interface(self, offset: int, length: int) -> tuple[int, int, int, int]:
        """An interface's link type, and its tick as a fraction of a nanosecond (if_tsresol,
        default microseconds) with its if_tsoffset in nanoseconds: integers keep times exact."""
        mm, order = self._mm, self._order
        link = struct.unpack_from(order + "H", mm, offset + 8)[0]
        multiply, divide, shift = 1000, 1, 0
        start, end = offset + 16, offset + length - 4
        while start + 4 <= end:
            code, size = struct.unpack_from(order + "HH", mm, start)
            if code == 0:
                break
            value = mm[start + 4:start + 4 + size]
            if code == IF_TSRESOL and value:
                exponent = value[0]
                if exponent & 0x80:
                    multiply, divide = 10**9, 2 ** (exponent & 0x7F)
                else:
                    multiply, divide = 10 ** max(0, 9 - exponent), 10 ** max(0, exponent - 9)
            elif code == IF_TSOFFSET and len(value) == 8:
                shift = struct.unpack(order + "q", value)[0] * 10**9
            start += 4 + (size + 3) // 4 * 4
        return link, multiply, divide, shift

    # --- the rest ----------------------------------------------------------------------------

    def _send_rest(self, fd: int) -> None:
        """The file from the current offset on, as it is (sendfile: the kernel copies)."""
        offset, size = self._offset, len(self._mm)
        while offset < size:
            sent = os.sendfile(fd, self._file.fileno(), offset, min(size - offset, 1 << 22))
            if sent == 0:
                return  # the file shrank under us: tshark reports the cut
            offset += sent
        self._offset = offset

    def _release(self, offset: int) -> None:
        """Hand the pages walked so far back: a walk over a large file would otherwise count
        the whole file in netwhy's resident memory."""
        end = offset - offset % mmap.PAGESIZE
        self._mm.madvise(mmap.MADV_DONTNEED, self._released, end - self._released)
        self._released = end


def write_all(fd: int, data: bytes | bytearray) -> None:
    """os.write until all of data is written (a pipe takes it in pieces)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


# --- reading a record's headers ------------------------------------------------------------

Classifier = Callable[[mmap.mmap, int, int, int, int], bool]


def classifier(link: int, counters: Counters) -> Classifier:
    """A function telling whether tshark must see a record (data at `start`, `length` bytes
    captured, at `time_ns` from the capture's first record, the file's `frame`), counting the
    UDP datagrams it keeps from tshark and following TCP's segments."""
    if link == _ETHERNET:
        ipv4 = ETHERTYPE_IPV4  # the closure's own: no global read, record after record

        def network(mm: mmap.mmap, start: int, length: int, time_ns: int, frame: int) -> bool:
            if length < 42:
                return True
            header = _ETHERNET_IPV4_HEADER(mm, start)
            if header[0] == ipv4:
                return _transport(mm, start + 14, start + length, header, time_ns, frame,
                                  counters)
            kind = mm[start + 12:start + 14]
            if kind == _VLAN_TYPE:  # one 802.1Q tag
                return _network(mm, mm[start + 16:start + 18], start + 18, start + length,
                                time_ns, frame, counters)
            return _network(mm, kind, start + 14, start + length, time_ns, frame, counters)
    elif link == _SLL:
        def network(mm: mmap.mmap, start: int, length: int, time_ns: int, frame: int) -> bool:
            return length < 36 or _network(mm, mm[start + 14:start + 16], start + 16,
                                           start + length, time_ns, frame, counters)
    elif link == _SLL2:
        def network(mm: mmap.mmap, start: int, length: int, time_ns: int, frame: int) -> bool:
            return length < 40 or _network(mm, mm[start:start + 2], start + 20,
                                           start + length, time_ns, frame, counters)
    elif link in (_RAW, _IPV4, _IPV6):
        def network(mm: mmap.mmap, start: int, length: int, time_ns: int, frame: int) -> bool:
            if length < 20:
                return True
            version = mm[start] >> 4
            kind = _IPV4_TYPE if version == 4 else _IPV6_TYPE if version == 6 else b""
            return _network(mm, kind, start, start + length, time_ns, frame, counters)
    else:
        def network(mm: mmap.mmap, start: int, length: int, time_ns: int, frame: int) -> bool:
            return True
    return network


# EtherTypes as the wire holds them
_IPV4_TYPE = ETHERTYPE_IPV4.to_bytes(2, "big")
_IPV6_TYPE = ETHERTYPE_IPV6.to_bytes(2, "big")
_VLAN_TYPE = ETHERTYPE_VLAN.to_bytes(2, "big")
# An IPv4 header without options and the first six bytes after it: version and header length,
# total length, flags and fragment offset, protocol, addresses, ports, UDP length; behind an
# Ethernet header, with the EtherType first.
_IPV4_HEADER = struct.Struct(">0sBxHxxHxBxx8sHHH").unpack_from  # 0s: no EtherType
_ETHERNET_IPV4_HEADER = struct.Struct(">12xHBxHxxHxBxx8sHHH").unpack_from
_TCP_PORTS, _UDP_PORTS = FRAME_CARRYING_TCP_PORTS, FRAME_CARRYING_UDP_PORTS


def _network(mm: mmap.mmap, kind: bytes, ip: int, end: int, time_ns: int, frame: int,
             counters: Counters) -> bool:
    if kind == _IPV4_TYPE:
        return _ipv4(mm, ip, end, time_ns, frame, counters)
    if kind == _IPV6_TYPE:
        return _ipv6(mm, ip, end, time_ns, frame, counters)
    return True  # ARP, and everything netwhy does not read (tshark's tap counts it)


def _ipv4(mm: mmap.mmap, ip: int, end: int, time_ns: int, frame: int,
          counters: Counters) -> bool:
    if end - ip < 28:
        return True
    return _transport(mm, ip, end, _IPV4_HEADER(mm, ip), time_ns, frame, counters)


def _transport(mm: mmap.mmap, ip: int, end: int, header: tuple, time_ns: int, frame: int,
               counters: Counters) -> bool:
    _, first, total, fragment, proto, _, sport, dport, udp_length = header
    if first != 0x45 or fragment & 0x3FFF or total < 28:
        # Options (a source route changes the destination tshark keys conversations on),
        # fragments, or odd: tshark judges.
        return True
    if proto == PROTO_TCP:
        if total < 34 or end - ip < 34:  # too short to tell
            return True
        if total >= 40 and end - ip >= 40:
            counters.tcp.segment(mm, mm[ip + 12:ip + 24], ip + 20, end, total - 20, total,
                                 frame, time_ns)
        if mm[ip + 33] & 0x06:  # SYN, RST
            return True
        return sport in _TCP_PORTS or dport in _TCP_PORTS
    if (proto != PROTO_UDP or not 8 <= udp_length <= total - 20 or sport in _UDP_PORTS
            or dport in _UDP_PORTS):
        return True  # ICMP, tunnels, a bogus UDP length, and anything else
    key = mm[ip + 12:ip + 24]  # addresses and ports, as on the wire
    return _first_datagram(counters.udp, key, key[4:8] + key[:4] + key[10:12] + key[8:10],
                           time_ns)


def key_addresses(key: bytes) -> tuple[str, int, str, int]:
    """A conversation key (addresses and ports as on the wire: 12 bytes for IPv4, 36 for
    IPv6) as tshark's tap writes it: address, port, address, port."""
    family, size = (socket.AF_INET, 4) if len(key) == 12 else (socket.AF_INET6, 16)
    ports = 2 * size
    return (socket.inet_ntop(family, key[:size]), key[ports] << 8 | key[ports + 1],
            socket.inet_ntop(family, key[size:ports]), key[ports + 2] << 8 | key[ports + 3])


def _first_datagram(udp: dict[bytes, UdpCount], key: bytes, back: bytes, time_ns: int) -> bool:
    """Whether a datagram is its conversation's first (or one past the cap): else it is only
    counted. `back`: the key of the opposite direction."""
    count = udp.get(key)
    if count is not None:
        count.forward += 1
    else:
        count = udp.get(back)
        if count is None:
            if len(udp) < MAX_UDP_CONVERSATIONS:
                udp[key] = UdpCount()
            return True
        count.backward += 1
    if count.earliest_ns is None or time_ns < count.earliest_ns:
        count.earliest_ns = time_ns
    if count.latest_ns is None or time_ns > count.latest_ns:
        count.latest_ns = time_ns
    return False


# IPv6 extension headers that neither end a packet's header chain nor change what tshark
# keys a conversation on: hop-by-hop and destination options (RFC 8200 section 4). A routing
# header changes the destination, a fragment header the transport's place: tshark judges.
_PASSED_HEADERS = frozenset({0, 60})


def _ipv6(mm: mmap.mmap, ip: int, end: int, time_ns: int, frame: int,
          counters: Counters) -> bool:
    """As for IPv4: ICMPv6 (Neighbor Discovery too), TCP that opens or resets a connection,
    a UDP conversation's first datagram, and whatever cannot be told for certain."""
    if end - ip < 48:
        return True  # cut short, or odd: tshark judges
    nxt, at = mm[ip + 6], ip + 40
    while nxt in _PASSED_HEADERS:
        if end - at < 16:
            return True
        nxt, at = mm[at], at + (mm[at + 1] + 1) * 8
    if end - at < 14 or nxt not in (PROTO_TCP, PROTO_UDP):
        return True  # ICMPv6, fragments, routing headers, ESP, anything else
    sport, dport = mm[at] << 8 | mm[at + 1], mm[at + 2] << 8 | mm[at + 3]
    payload = mm[ip + 4] << 8 | mm[ip + 5]
    if nxt == PROTO_TCP:
        if end - at >= 20:
            counters.tcp.segment(mm, mm[ip + 8:ip + 40] + mm[at:at + 4], at, end,
                                 payload - (at - ip - 40), 40 + payload, frame, time_ns)
        if mm[at + 13] & 0x06:  # SYN, RST
            return True
        return sport in _TCP_PORTS or dport in _TCP_PORTS
    udp_length = mm[at + 4] << 8 | mm[at + 5]
    if (not 8 <= udp_length <= payload - (at - ip - 40) or sport in _UDP_PORTS
            or dport in _UDP_PORTS):
        return True
    key = mm[ip + 8:ip + 40] + mm[at:at + 4]  # addresses and ports, as on the wire
    return _first_datagram(counters.udp, key, key[16:32] + key[:16] + key[34:36] + key[32:34],
                           time_ns)
