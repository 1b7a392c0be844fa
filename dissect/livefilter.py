"""Live, between dumpcap and tshark: what tshark must dissect, and what it is spared.

Dissecting is what falls behind on a hostile link: under an ARP flood of 100,000 frames a
second tshark took a core, dumpcap could not hand frames on, the kernel dropped them, and the
ICMP errors went with the rest. So netwhy reads dumpcap's pcapng stream itself, in a thread,
record by record, and hands tshark:

- what the file prefilter hands it (prefilter.py's classifier): ICMP, SYN and RST, each UDP
  conversation's first datagram, and whatever it cannot classify; later datagrams it counts
  per conversation, as for a file;
- ARP within budgets per second of capture time (kb/live.yaml): each sender's first
  `per_sender`, while all senders together stay within `bulk`; beyond those, ARP that asks
  about or answers for an address of the IP traffic passed (the hosts being watched) within
  `watched`. The rest is shed: counted, and noted as a `Gap` when it held replies (an ARP
  answer may be among them).

tshark numbers the records it reads 1, 2, 3...; `frame()` maps them back to dumpcap's numbers
(a --write ring with the same capture filter numbers them alike), from runs noted before each
write and forgotten as tshark's rows pass them.
"""

from __future__ import annotations

import os
import struct
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from netwhy.dissect import arp as arp_opcodes
from netwhy.dissect import icmp
from netwhy.dissect.ethernet import ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_VLAN
from netwhy.dissect.facts import TcpStall
from netwhy.dissect.ip import PROTO_ICMP
from netwhy.dissect.prefilter import (
    EPB,
    IDB,
    IF_TSRESOL,
    MAX_BLOCK,
    SHB,
    Classifier,
    Counters,
    UdpCount,
    classifier,
    key_addresses,
    write_all,
)
from netwhy.dissect.tcp_segments import SegmentTracker

_READ = 1 << 20  # bytes taken from dumpcap's pipe at a time
# EtherTypes as the wire holds them
_ARP_TYPE, _IPV4_TYPE, _VLAN_TYPE = (t.to_bytes(2, "big") for t in (
    ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_VLAN))
# Where a link type's EtherType and network header start (SLL: `-i any`).
_LINKS = {1: (12, 14), 113: (14, 16), 276: (0, 20)}
MAX_SENDERS = 10_000  # ARP senders counted per second; past them, only the bulk budget holds
MAX_PEAKS = 1_000  # senders whose rate on the wire is remembered
MAX_RUNS = 100_000  # frame-number runs waiting for tshark's rows (seconds of backlog)


@dataclass(frozen=True)
class Budgets:
    """ARP frames tshark dissects per second of capture time (kb/live.yaml)."""

    per_sender: int
    bulk: int
    watched: int
    hosts: int  # addresses of the IP traffic remembered as watched


@dataclass(frozen=True)
class Gap:
    """Frames up to `last_frame` (None: anywhere) among which some were never judged: ARP
    replies shed (`protocol` "arp"), or any frame (None): read while far behind the wire, so
    that the kernel may have dropped some, or dropped as dumpcap counted at the end."""

    last_frame: int | None
    protocol: str | None
    reason: str


@dataclass
class _Second:
    """What one second of capture time has used of the budgets, and shed."""

    number: int = -1
    senders: dict[bytes, int] = field(default_factory=dict)
    bulk: int = 0
    watched: int = 0
    shed_replies: int = 0
    last_shed_reply: int = 0


class LiveFilter:
    """Reads dumpcap's pcapng from one descriptor and writes tshark's share into another."""

    def __init__(self, budgets: Budgets, behind_s: float):
        self.budgets, self.behind_s = budgets, behind_s
        self.frames = 0  # records read from dumpcap
        self.passed = 0  # records handed to tshark
        self.shed = 0  # ARP frames shed
        self.unread = 0  # records read after give_up(), or once tshark stopped reading
        self.lag_s = 0.0  # how far the latest record read trails the wall clock
        self.udp: dict[bytes, UdpCount] = {}
        self._counters = Counters(self.udp, SegmentTracker())
        self.peaks: dict[bytes, int] = {}  # ARP sender MAC -> most frames in one second
        self.ended = False  # dumpcap's stream has been read to its end
        self.failure: Exception | None = None  # what stopped the thread before the end
        self.shift_ns = 0  # for Rows: tshark's first record is the capture's first
        self._heavy: dict[bytes, int] = {}  # seconds each sender in `peaks` was past budget
        self._gaps: deque[Gap] = deque()
        self._runs: deque[tuple[int, int]] = deque([(1, 0)], maxlen=MAX_RUNS)
        self._hosts: dict[bytes, None] = {}
        self._second = _Second()
        self._interfaces: list[tuple[int, int, int, Classifier]] = []  # link, ×, ÷, classifier
        self._order = "<"
        self._first_ns: int | None = None
        self._offset = 0  # dumpcap's frame number minus tshark's, for the records passed
        self._give_up = False
        self._sink: int | None = None
        self._pending = 0  # records gathered for the next write

    # --- the thread ------------------------------------------------------------------------

    def run(self, source: int, sink: int) -> None:
        """Until dumpcap's end: read its records, write tshark's share; close both ends."""
        self._sink = sink
        data = b""
        try:
            while chunk := os.read(source, _READ):
                if self._give_up:
                    self._close_sink()
                data = data + chunk if data else chunk
                out: list[bytes] = []
                used = self._blocks(data, out)
                data = data[used:]
                self._send(out)
            self._roll(-1)
            self.ended = True
        except Exception as error:  # raised again by the main thread (live.check_live_end)
            self.failure = error
        finally:
            os.close(source)
            self._close_sink()

    def give_up(self) -> None:
        """From now on records are only counted (unread): tshark gets its end of input."""
        self._give_up = True

    # --- what the watch asks ---------------------------------------------------------------

    def frame(self, number: int) -> int:
        """dumpcap's frame number of tshark's frame `number` (asked in increasing order)."""
        runs = self._runs
        while len(runs) > 1 and runs[1][0] <= number:
            runs.popleft()
        return number + runs[0][1]

    def time(self, epoch: str, relative: str) -> float:
        return float(relative)  # tshark's first record is the capture's first: same origin

    def gaps(self) -> Iterator[Gap]:
        """The gaps noted since last asked."""
        while self._gaps:
            yield self._gaps.popleft()

    def arp_peaks(self) -> dict[bytes, int | None]:
        """ARP senders past their budget: the most frames each sent in one second, or None
        until a whole second of it is counted (its first began before the sender did)."""
        peaks: dict[bytes, int | None] = dict(self.peaks)  # copies: the thread adds to them
        if not self.ended:
            for sender, seconds in dict(self._heavy).items():
                if seconds < 2:
                    peaks[sender] = None
            for sender, count in dict(self._second.senders).items():
                if count > self.budgets.per_sender and sender not in peaks:
                    peaks[sender] = None
        return peaks

    def stalls(self) -> Iterator[TcpStall]:
        """The TCP connections whose data stopped getting through (tcp_segments.py): only
        where bulk TCP reaches netwhy, with --write (else the kernel's filter drops it)."""
        return self._counters.tcp.stalls()

    def counted(self) -> Iterator[tuple[tuple[str, int, str, int], int, int, int, int]]:
        """The UDP conversations with datagrams counted here (beyond the first, which tshark
        saw), keyed as tshark's tap: addresses and ports, datagrams forward and backward, and
        their earliest and latest times."""
        for key, count in self.udp.items():
            if count.forward or count.backward:
                yield (key_addresses(key), count.forward, count.backward, count.earliest_ns,
                       count.latest_ns)

    # --- records ---------------------------------------------------------------------------

    def _blocks(self, data: bytes, out: list[bytes]) -> int:
        """Handle the complete blocks at the start of data; returns the bytes used."""
        offset, size = 0, len(data)
        header = struct.Struct(self._order + "II").unpack_from
        last_ns = None
        while offset + 12 <= size:
            kind, length = header(data, offset)
            if kind == SHB:
                self._section(data, offset)
                header = struct.Struct(self._order + "II").unpack_from
                kind, length = header(data, offset)
            if length < 12 or length % 4 or length > MAX_BLOCK:
                raise ValueError(f"dumpcap wrote a damaged pcapng block ({length} bytes)")
            end = offset + length
            if end > size:
                break
            if kind == EPB:
                last_ns = self._record(data, offset, end, out)
            else:
                if kind == IDB:
                    self._interface(data, offset, end)
                if self._sink is not None:
                    out.append(data[offset:end])
            offset = end
        if last_ns is not None:
            self._note_lag(last_ns)
        return offset

    def _record(self, data: bytes, start: int, end: int, out: list[bytes]) -> int:
        interface, high, low, captured = struct.unpack_from(self._order + "IIII", data, start + 8)
        link, multiply, divide, classify = self._interfaces[interface]
        time_ns = ((high << 32) | low) * multiply // divide
        self.frames += 1
        if self._first_ns is None:
            self._first_ns = time_ns
        if self._sink is None:
            self.unread += 1
            return time_ns
        second = time_ns // 1_000_000_000
        if second != self._second.number:
            self._roll(second)
        packet = start + 28
        wanted = self._wanted(data, packet, min(captured, end - packet), link, classify,
                              time_ns - self._first_ns, self.frames)
        # tshark's times start at its first record: that must be the capture's first (nothing
        # is counted from a first record, so none is counted twice).
        if wanted or self.frames == 1:
            self.passed += 1
            offset = self.frames - self.passed
            if offset != self._offset:
                self._offset = offset
                self._runs.append((self.passed, offset))
            out.append(data[start:end])
            self._pending += 1
        return time_ns

    def _wanted(self, data: bytes, packet: int, captured: int, link: int,
                classify: Classifier, time_ns: int, frame: int) -> bool:
        where = _LINKS.get(link)
        if where is None:
            return classify(data, packet, captured, time_ns, frame)
        kind_at, network = packet + where[0], packet + where[1]
        kind = data[kind_at:kind_at + 2]
        if kind == _VLAN_TYPE and link == 1:
            kind, network = data[packet + 16:packet + 18], packet + 18
        if kind == _ARP_TYPE:
            return self._arp(data, network, packet + captured)
        wanted = classify(data, packet, captured, time_ns, frame)
        if wanted and kind == _IPV4_TYPE:
            self._watch_hosts(data, network, packet + captured)
        return wanted

    def _arp(self, data: bytes, arp: int, end: int) -> bool:
        """Within the budgets, or shed (Ethernet/IPv4 ARP only; anything else passes)."""
        if end - arp < 28 or data[arp + 4] != 6 or data[arp + 5] != 4:
            return True
        budgets, second = self.budgets, self._second
        sender = data[arp + 8:arp + 14]
        senders = second.senders
        count = senders.get(sender, 0) + 1
        if count > 1 or len(senders) < MAX_SENDERS:
            senders[sender] = count
        hosts = self._hosts
        if data[arp + 14:arp + 18] in hosts or data[arp + 24:arp + 28] in hosts:
            if second.watched < budgets.watched:
                second.watched += 1
                return True
        elif count <= budgets.per_sender and second.bulk < budgets.bulk:
            second.bulk += 1
            return True
        self.shed += 1
        if data[arp + 7] == arp_opcodes.REPLY:
            second.shed_replies += 1
            second.last_shed_reply = self.frames
        return False

    def _watch_hosts(self, data: bytes, ip: int, end: int) -> None:
        """Remember the addresses of an IPv4 packet tshark sees, and the destination an ICMP
        error quotes: ARP about them is never shed before the bulk."""
        if end - ip < 20:
            return
        addresses = [data[ip + 12:ip + 16], data[ip + 16:ip + 20]]
        inner = ip + (data[ip] & 0x0F) * 4 + 8
        if data[ip + 9] == PROTO_ICMP and end - inner >= 20 and data[inner - 8] in icmp.ERROR_TYPES:
            addresses.append(data[inner + 16:inner + 20])
        hosts = self._hosts
        for address in addresses:
            hosts.pop(address, None)
            hosts[address] = None  # the most recent last: the oldest go first
        while len(hosts) > self.budgets.hosts:
            del hosts[next(iter(hosts))]

    def _roll(self, second: int) -> None:
        """A new second of capture time: note the last one's heavy senders and shed replies."""
        ended = self._second
        per_sender = self.budgets.per_sender
        for sender, count in ended.senders.items():
            if count > per_sender and (sender in self.peaks or len(self.peaks) < MAX_PEAKS):
                self.peaks[sender] = max(self.peaks.get(sender, 0), count)
                self._heavy[sender] = self._heavy.get(sender, 0) + 1
        if ended.shed_replies:
            self._gaps.append(Gap(ended.last_shed_reply, "arp",
                                  f"{ended.shed_replies:,} ARP replies were shed"))
        self._second = _Second(second)

    def _note_lag(self, last_ns: int) -> None:
        self.lag_s = max(0.0, time.time() - last_ns / 1e9)
        if self.lag_s > self.behind_s:
            self._gaps.append(Gap(self.frames, None, f"netwhy fell {self.lag_s:.1f} s behind "
                                                     "the wire (the kernel may drop frames)"))

    # --- pcapng ----------------------------------------------------------------------------

    def _section(self, data: bytes, offset: int) -> None:
        if len(data) - offset >= 12:
            self._order = "<" if data[offset + 8:offset + 12] == b"\x4d\x3c\x2b\x1a" else ">"
        self._interfaces.clear()

    def _interface(self, data: bytes, start: int, end: int) -> None:
        """An interface's link type and tick (if_tsresol; microseconds by default)."""
        link = struct.unpack_from(self._order + "H", data, start + 8)[0]
        multiply, divide = 1000, 1
        option = start + 16
        while option + 4 <= end - 4:
            code, size = struct.unpack_from(self._order + "HH", data, option)
            if code == 0:
                break
            if code == IF_TSRESOL and size:
                exponent = data[option + 4]
                if exponent & 0x80:
                    multiply, divide = 10**9, 2 ** (exponent & 0x7F)
                else:
                    multiply, divide = 10 ** max(0, 9 - exponent), 10 ** max(0, exponent - 9)
            option += 4 + (size + 3) // 4 * 4
        self._interfaces.append((link, multiply, divide,
                                 classifier(link, self._counters)))

    # --- tshark's end ----------------------------------------------------------------------

    def _send(self, out: list[bytes]) -> None:
        pending, self._pending = self._pending, 0
        if self._sink is None or not out:
            return
        try:
            write_all(self._sink, b"".join(out))
        except OSError:  # tshark has gone: what it did not get is unread
            self.unread += pending
            self._close_sink()

    def _close_sink(self) -> None:
        if self._sink is not None:
            os.close(self._sink)
            self._sink = None
