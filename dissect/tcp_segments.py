"""TCP segments that stop getting through: the evidence of a path-MTU black hole, gathered as
the prefilter walks the bulk TCP it keeps from tshark.

Per connection whose handshake the capture shows, and per direction, this keeps what the sender
offered (its MSS), the largest segment the receiver acknowledged, and, once a segment is sent
again at the point where the receiver's acknowledgements stopped, that stall: its size, how
often it was sent, and whether a smaller segment at the same place later got through (the
sender's own black-hole detection). From the receiver's side of the path, the large segments
never arrive; what shows is a sender whose sequence numbers run ahead of everything the
receiver acknowledged, a gap that is never filled.

The work per segment is a dictionary lookup and a few comparisons: a segment no larger than
the largest one acknowledged so far changes nothing and is not remembered. A connection is
judged, and forgotten, when it closes; those still open are judged at the end of the capture.
Only connections that stalled become facts.
"""

from __future__ import annotations

import mmap
import socket
import struct
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from netwhy.dissect.facts import TcpStall

MAX_CONNECTIONS = 50_000  # tracked at once; past it, new connections are counted, not tracked
MAX_IN_FLIGHT = 64  # unacknowledged segments remembered per direction, larger than any acked
MAX_FRAMES = 8  # evidence frames kept per stall
# A stall is a fact from its second re-send on (the rules ask for more, kb: min_resends):
# one re-send is the everyday loss of a busy path, and would make a fact of most connections.
MIN_RESENDS = 2

_FIN, _SYN, _RST, _ACK = 0x01, 0x02, 0x04, 0x10
_HALF = 1 << 31
_MASK = (1 << 32) - 1


def after(a: int, b: int) -> bool:
    """Sequence number a lies after b (RFC 1982 serial arithmetic: numbers wrap at 2^32)."""
    return 0 < ((a - b) & _MASK) < _HALF


@dataclass(slots=True)
class _Stall:
    """One sequence number sent again and again: the segment the receiver does not get."""

    seq: int
    size: int  # IP length of its largest send
    frames: list[int]
    first_ns: int
    last_ns: int
    acked_before: tuple[int, int] = (0, 0)  # the largest segment acknowledged before: size, frame
    resends: int = 1
    smallest: int = 0  # IP length of its smallest send


@dataclass(slots=True)
class _Direction:
    """What one side sent, and how much of it the other side acknowledged."""

    mss: int = 0
    next_seq: int | None = None  # after the last byte sent
    largest_acked: int = 0  # IP length of the largest segment acknowledged
    acked_frame: int = 0  # that segment's frame
    last_ack: int | None = None  # the other side's latest acknowledgement of this side's data
    # Sent, not yet acknowledged, and larger than any acknowledged: (end, length, frame, seq).
    in_flight: deque[tuple[int, int, int, int]] = field(default_factory=deque)
    stall: _Stall | None = None
    gap_seq: int | None = None  # receiver's view: the first byte sent but never seen
    gap_frame: int = 0
    gap_ns: int = 0
    data_after_gap: bool = False
    recovered: _Stall | None = None  # the first stall acknowledged after a smaller send
    zero_window: bool = False  # the receiver advertised a zero window


@dataclass(slots=True)
class _Connection:
    src: bytes
    dst: bytes
    sport: int
    dport: int
    started_ns: int
    sides: tuple[_Direction, _Direction] = field(
        default_factory=lambda: (_Direction(), _Direction()))
    closed: int = 0  # FINs seen; a RST closes at once
    established: bool = False


class SegmentTracker:
    """Feed every TCP segment, IPv4 or IPv6 (`segment`), then take the stalls (`stalls`)."""

    def __init__(self) -> None:
        # Both orientations of a connection's key lead to it: one lookup per segment.
        self._connections: dict[bytes, tuple[_Connection, int]] = {}
        self._stalls: list[TcpStall] = []
        self.untracked = 0  # connections opened past MAX_CONNECTIONS

    def segment(self, mm: mmap.mmap, key: bytes, tcp: int, end: int, tcp_length: int,
                length: int, frame: int, time_ns: int) -> None:
        """One segment: `key` its addresses and ports as on the wire (IPv4's 4-byte addresses
        or IPv6's 16-byte ones, then the ports), its TCP header at `tcp`, `end` where the
        captured bytes end, `tcp_length` the bytes from the TCP header on, `length` the IP
        length (the whole packet's, IPv6's fixed header included)."""
        found = self._connections.get(key)
        if found is None:
            if mm[tcp + 13] & (_SYN | _ACK) == _SYN:  # a client's SYN opens a connection
                seq, _, offset, _, _ = _TCP(mm, tcp + 4)
                mss = _mss(mm, tcp + 20, min(end, tcp + (offset >> 4) * 4))
                self._open(key, seq, mss, time_ns)
            return
        seq, ack, offset, flags, window = _TCP(mm, tcp + 4)
        connection, side = found
        sender = connection.sides[side]
        if flags & _SYN:
            mss = _mss(mm, tcp + 20, min(end, tcp + (offset >> 4) * 4))
            if not flags & _ACK and seq != (sender.next_seq or 0) - 1 & _MASK:
                # A new connection on the same addresses and ports: the old one is over.
                self._close(key, connection)
                self._open(key, seq, mss, time_ns)
                return
            sender.mss, sender.next_seq = mss, (seq + 1) & _MASK
            connection.established = connection.established or side == 1
            return
        if flags & _ACK:
            receiver = connection.sides[1 - side]
            if ack != receiver.last_ack:
                self._acknowledged(receiver, ack)
            sender.zero_window = window == 0
        payload = tcp_length - (offset >> 4) * 4
        if seq == sender.next_seq:  # in order, the common case: kept short
            if payload > 0:
                after_end = (seq + payload) & _MASK
                sender.next_seq = after_end
                if length > sender.largest_acked and len(sender.in_flight) < MAX_IN_FLIGHT:
                    sender.in_flight.append((after_end, length, frame, seq))
                if sender.gap_seq is not None:
                    sender.data_after_gap = True  # data flows on past the gap: no stall
        else:
            self._out_of_order(sender, seq, payload, length, frame, time_ns)
        if flags & (_FIN | _RST):
            if flags & _RST or connection.closed:
                self._close(key, connection)
            else:
                connection.closed += 1

    def _out_of_order(self, sender: _Direction, seq: int, payload: int, length: int,
                      frame: int, time_ns: int) -> None:
        if sender.next_seq is not None and after(seq, sender.next_seq):
            # Bytes the capture never showed: lost before it, if never acknowledged.
            if sender.gap_seq is None:
                sender.gap_seq, sender.gap_frame, sender.gap_ns = sender.next_seq, frame, time_ns
            if payload <= 0:
                sender.next_seq = seq
        elif payload > 0 and sender.gap_seq is not None:
            sender.data_after_gap = True
        if payload > 0:
            self._sent(sender, seq, payload, length, frame, time_ns)

    def stalls(self) -> Iterator[TcpStall]:
        """The connections that stalled: those closed so far, then those still open."""
        yield from self._stalls
        self._stalls = []
        for key, (connection, side) in list(self._connections.items()):
            if side == 0:
                yield from self._judged(connection)
                del self._connections[key]

    # --- one segment ----------------------------------------------------------------------

    def _open(self, key: bytes, seq: int, mss: int, time_ns: int) -> None:
        if len(self._connections) >= 2 * MAX_CONNECTIONS:
            self.untracked += 1
            return
        size = (len(key) - 4) // 2  # of an address
        connection = _Connection(key[:size], key[size:2 * size],
                                 int.from_bytes(key[2 * size:2 * size + 2], "big"),
                                 int.from_bytes(key[2 * size + 2:], "big"), time_ns)
        client = connection.sides[0]
        client.mss, client.next_seq = mss, (seq + 1) & _MASK
        self._connections[key] = (connection, 0)
        self._connections[_reversed(key)] = (connection, 1)

    @staticmethod
    def _acknowledged(side: _Direction, ack: int) -> None:
        """The other end acknowledges `side`'s data up to ack."""
        if side.last_ack is not None and not after(ack, side.last_ack):
            return
        side.last_ack = ack
        flight = side.in_flight
        while flight and not after(flight[0][0], ack):
            _, length, frame, _ = flight.popleft()
            if length > side.largest_acked:
                side.largest_acked, side.acked_frame = length, frame
        stall = side.stall
        if stall is not None and after(ack, stall.seq):
            # A send smaller than the stalled size got through: the sender shrank its segments.
            # The same size getting through in the end is ordinary loss.
            if stall.smallest < stall.size and side.recovered is None:
                side.recovered = stall
            side.stall = None
        if side.gap_seq is not None and after(ack, side.gap_seq):
            side.gap_seq = None  # the receiver got the missing bytes after all

    @staticmethod
    def _sent(side: _Direction, seq: int, payload: int, length: int, frame: int,
              time_ns: int) -> None:
        end = (seq + payload) & _MASK
        if side.next_seq is None or after(end, side.next_seq):
            side.next_seq = end
            if length > side.largest_acked and len(side.in_flight) < MAX_IN_FLIGHT:
                side.in_flight.append((end, length, frame, seq))
            return
        # Sent before: a retransmission. The one at the receiver's acknowledgement point is
        # the segment the receiver is waiting for.
        if side.last_ack is None or seq != side.last_ack:
            return
        stall = side.stall
        if stall is None or stall.seq != seq:
            # The first send's size is not the wire's when the sender's NIC segments it (TSO):
            # the re-sends tell the size that did not get through.
            original = next((f for e, n, f, s in side.in_flight if s == seq), None)
            frames = [original, frame] if original is not None else [frame]
            side.stall = _Stall(seq, length, frames, time_ns, time_ns, smallest=length,
                                acked_before=(side.largest_acked, side.acked_frame))
            return
        stall.resends += 1
        stall.last_ns = time_ns
        stall.size = max(stall.size, length)
        stall.smallest = min(stall.smallest, length)
        if len(stall.frames) < MAX_FRAMES:
            stall.frames.append(frame)

    def _close(self, key: bytes, connection: _Connection) -> None:
        self._stalls.extend(self._judged(connection))
        for k in (key, _reversed(key)):
            self._connections.pop(k, None)

    # --- judging --------------------------------------------------------------------------

    def _judged(self, connection: _Connection) -> Iterator[TcpStall]:
        if not connection.established:
            return
        for side in (0, 1):
            sender, receiver = connection.sides[side], connection.sides[1 - side]
            stall, recovered = sender.stall, sender.stall is None and sender.recovered is not None
            if recovered:
                stall = sender.recovered
            elif stall is not None and stall.resends < MIN_RESENDS:
                stall = None
            gap = sender.gap_seq if not sender.data_after_gap else None
            if stall is None and gap is None:
                continue
            if stall is not None:
                frames, first_ns, last_ns = stall.frames, stall.first_ns, stall.last_ns
                acked, acked_frame = stall.acked_before
            else:
                frames, first_ns, last_ns = [sender.gap_frame], sender.gap_ns, sender.gap_ns
                acked, acked_frame = sender.largest_acked, sender.acked_frame
            ends = (connection.src, connection.dst, connection.sport, connection.dport)
            src, dst, sport, dport = ends if side == 0 else (ends[1], ends[0], ends[3], ends[2])
            yield TcpStall(
                src=_ip(src), dst=_ip(dst), sport=sport, dport=dport, opened_by_sender=side == 0,
                sender_mss=sender.mss, receiver_mss=receiver.mss,
                largest_acked=acked,
                stalled=stall.size if stall is not None else 0,
                resends=stall.resends if stall is not None else 0,
                recovered=recovered, recovered_size=stall.smallest if recovered else 0,
                missing_bytes=(sender.next_seq - gap) & _MASK if gap is not None else 0,
                zero_window=receiver.zero_window,
                frames=tuple(sorted({acked_frame, *frames} - {0})),
                time=self._seconds(first_ns), last_time=self._seconds(last_ns),
            )

    @staticmethod
    def _seconds(time_ns: int) -> float:  # the walk's times count from the first record
        return time_ns / 1e9


_TCP = struct.Struct(">IIBBH").unpack_from  # sequence, acknowledgement, offset, flags, window
_MSS_OPTION, _END_OPTION, _NOP_OPTION = 2, 0, 1


def _mss(mm: mmap.mmap, start: int, end: int) -> int:
    """The MSS option among a SYN's options (bytes start..end), or 0."""
    while start < end:
        kind = mm[start]
        if kind == _END_OPTION:
            return 0
        if kind == _NOP_OPTION:
            start += 1
            continue
        if start + 1 >= end or mm[start + 1] < 2:
            return 0
        if kind == _MSS_OPTION and mm[start + 1] == 4 and start + 4 <= end:
            return mm[start + 2] << 8 | mm[start + 3]
        start += mm[start + 1]
    return 0


def _reversed(key: bytes) -> bytes:
    """The key of the other direction: addresses and ports swapped."""
    size = (len(key) - 4) // 2
    ports = 2 * size
    return key[size:ports] + key[:size] + key[ports + 2:] + key[ports:ports + 2]


def _ip(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)
