"""Seeded mutations of real captures: byte-wise, and aware of pcap/pcapng and of the packets.

A capture is split into its header and its records (pcap) or blocks (pcapng); mutators change
them and join them again, fixing length fields unless lying about them is the point. Every
mutator is `(rng, capture) -> bytes` and depends on nothing but the seed it is given.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from dataclasses import dataclass, replace

PCAPNG_SHB, PCAPNG_IDB, PCAPNG_EPB, PCAPNG_SPB = 0x0A0D0D0A, 1, 6, 3
PCAP_HEADER_LENGTH, PCAP_RECORD_LENGTH = 24, 16
ETH_IP, ETH_ARP = 0x0800, 0x0806
# Link types tshark knows and that are wrong for an Ethernet capture, and some it does not know.
LINK_TYPES = (0, 6, 9, 101, 105, 108, 113, 127, 147, 189, 192, 220, 228, 229, 276, 65535, 4096)
# Sizes an ARP header can claim for hardware and protocol addresses.
ARP_SIZES = (0, 1, 2, 3, 4, 5, 6, 7, 8, 16, 20, 32, 255)
ICMP_ERROR_TYPES = (3, 4, 5, 11, 12)


@dataclass(frozen=True)
class Capture:
    """A pcap or pcapng file as header + units (pcap records, or whole pcapng blocks)."""

    pcapng: bool
    endian: str  # struct byte order, "<" or ">"
    header: bytes  # pcap global header; empty for pcapng (the SHB is a block)
    units: tuple[bytes, ...]
    trailer: bytes = b""  # bytes after the last whole unit (a cut-short file)

    def join(self) -> bytes:
        return self.header + b"".join(self.units) + self.trailer


def parse(data: bytes) -> Capture:
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        return _parse_pcapng(data)
    return _parse_pcap(data)


def _parse_pcap(data: bytes) -> Capture:
    endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    units, offset = [], PCAP_HEADER_LENGTH
    while offset + PCAP_RECORD_LENGTH <= len(data):
        length = struct.unpack_from(endian + "I", data, offset + 8)[0]
        end = offset + PCAP_RECORD_LENGTH + length
        if end > len(data):
            break
        units.append(data[offset:end])
        offset = end
    return Capture(False, endian, data[:PCAP_HEADER_LENGTH], tuple(units), data[offset:])


def _parse_pcapng(data: bytes) -> Capture:
    endian = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    units, offset = [], 0
    while offset + 12 <= len(data):
        length = struct.unpack_from(endian + "I", data, offset + 4)[0]
        if length < 12 or offset + length > len(data):
            break
        units.append(data[offset:offset + length])
        offset += length
    return Capture(True, endian, b"", tuple(units), data[offset:])


def packet_units(capture: Capture) -> list[int]:
    if not capture.pcapng:
        return list(range(len(capture.units)))
    return [i for i, unit in enumerate(capture.units) if _block_type(capture, unit) == PCAPNG_EPB]


def _block_type(capture: Capture, unit: bytes) -> int:
    return struct.unpack_from(capture.endian + "I", unit)[0]


def packet_data(capture: Capture, index: int) -> bytes:
    unit = capture.units[index]
    if not capture.pcapng:
        return unit[PCAP_RECORD_LENGTH:]
    length = struct.unpack_from(capture.endian + "I", unit, 20)[0]
    return unit[28:28 + length]


def with_packet_data(capture: Capture, index: int, data: bytes) -> Capture:
    """The capture with one packet's bytes replaced, every length field telling the truth."""
    unit, order = capture.units[index], capture.endian
    if capture.pcapng:
        interface, high, low = struct.unpack_from(order + "III", unit, 8)
        padded = data + b"\0" * (-len(data) % 4)
        total = 12 + 20 + len(padded)
        unit = struct.pack(order + "IIIIIII", PCAPNG_EPB, total, interface, high, low,
                           len(data), len(data)) + padded + struct.pack(order + "I", total)
    else:
        seconds, fraction = struct.unpack_from(order + "II", unit)
        unit = struct.pack(order + "IIII", seconds, fraction, len(data), len(data)) + data
    units = list(capture.units)
    units[index] = unit
    return replace(capture, units=tuple(units))


# --- byte-wise -------------------------------------------------------------------------------


def truncate(rng: random.Random, capture: Capture) -> bytes:
    data = capture.join()
    return data[: rng.randrange(4, len(data))]


def corrupt_bytes(rng: random.Random, capture: Capture) -> bytes:
    """A few bytes anywhere after the magic number set to random values."""
    data = bytearray(capture.join())
    for _ in range(rng.randint(1, 16)):
        data[rng.randrange(4, len(data))] = rng.randrange(256)
    return bytes(data)


def lying_length(rng: random.Random, capture: Capture) -> bytes:
    """One record or block whose length field says something else than its size."""
    index = rng.randrange(len(capture.units))
    unit = bytearray(capture.units[index])
    lie = rng.choice((0, 1, 3, 11, 12, 13, len(unit) - 1, len(unit) + 1, len(unit) * 2,
                      0x7FFFFFFF, 0xFFFFFFFF, rng.randrange(1 << 32)))
    if capture.pcapng:
        # The leading or trailing total length, or an EPB's captured length.
        where = rng.choice([4, len(unit) - 4] + ([20] if len(unit) >= 32 else []))
    else:
        where = rng.choice((8, 12))  # captured or original length
    struct.pack_into(capture.endian + "I", unit, where, lie & 0xFFFFFFFF)
    units = list(capture.units)
    units[index] = bytes(unit)
    return replace(capture, units=tuple(units)).join()


def wrong_link_type(rng: random.Random, capture: Capture) -> bytes:
    link = rng.choice(LINK_TYPES)
    if not capture.pcapng:
        header = bytearray(capture.header)
        struct.pack_into(capture.endian + "I", header, 20, link)
        return replace(capture, header=bytes(header)).join()
    units = list(capture.units)
    for index, unit in enumerate(units):
        if _block_type(capture, unit) == PCAPNG_IDB:
            changed = bytearray(unit)
            struct.pack_into(capture.endian + "H", changed, 8, link)
            units[index] = bytes(changed)
    return replace(capture, units=tuple(units)).join()


def garbage_block(rng: random.Random, capture: Capture) -> bytes:
    """A block (pcapng) or record (pcap) of random content inserted among the others."""
    body = rng.randbytes(rng.choice((0, 1, 4, 8, 20, 28, 100, 1500)))
    if capture.pcapng:
        kind = rng.choice((PCAPNG_SHB, PCAPNG_IDB, PCAPNG_EPB, PCAPNG_SPB, 2, 4, 5, 7, 9, 10,
                           0x0BAD, 0x80000001, rng.randrange(1 << 32)))
        body += b"\0" * (-len(body) % 4)
        total = 12 + len(body)
        block = struct.pack(capture.endian + "II", kind, total) + body
        block += struct.pack(capture.endian + "I", total if rng.random() < 0.7 else total + 4)
    else:
        block = struct.pack(capture.endian + "IIII", rng.randrange(1 << 32),
                            rng.randrange(1 << 32), len(body), len(body)) + body
    units = list(capture.units)
    units.insert(rng.randint(1 if capture.pcapng else 0, len(units)), block)
    return replace(capture, units=tuple(units)).join()


def odd_timestamps(rng: random.Random, capture: Capture) -> bytes:
    """Packets out of time order, at time 0 or at the largest time the format holds; in pcapng,
    also an interface whose time unit is one second, or absurdly small."""
    units = list(capture.units)
    packets = packet_units(capture)
    where = 12 if capture.pcapng else 0  # pcapng: EPB timestamp (high, low); pcap: seconds
    for index in rng.sample(packets, k=min(3, len(packets))):
        unit = bytearray(units[index])
        high = rng.choice((0, 1, 0x7FFFFFFF, 0xFFFFFFFF, rng.randrange(1 << 32)))
        low = rng.choice((0, 999_999, 0xFFFFFFFF, rng.randrange(1 << 32)))
        struct.pack_into(capture.endian + "II", unit, where, high, low)
        units[index] = bytes(unit)
    if capture.pcapng and rng.random() < 0.5:
        units = [_with_time_unit(capture, unit, rng.choice((0, 0x80, 0x7F, 0xFF, 19)))
                 for unit in units]
    return replace(capture, units=tuple(units)).join()


def _with_time_unit(capture: Capture, unit: bytes, resolution: int) -> bytes:
    """An interface block rebuilt with one option, if_tsresol (0: seconds; 0x80: 2^0 s)."""
    if _block_type(capture, unit) != PCAPNG_IDB:
        return unit
    order = capture.endian
    link, snaplen = struct.unpack_from(order + "H2xI", unit, 8)
    options = struct.pack(order + "HHB3x", 9, 1, resolution) + struct.pack(order + "HH", 0, 0)
    total = 12 + 8 + len(options)
    return (struct.pack(order + "IIHHI", PCAPNG_IDB, total, link, 0, snaplen) + options
            + struct.pack(order + "I", total))


# --- packet-aware ----------------------------------------------------------------------------


def _ethernet_payload(frame: bytes) -> tuple[int, int] | None:
    """(ethertype, offset of the payload) of an Ethernet frame, past one VLAN tag."""
    if len(frame) < 14:
        return None
    kind, offset = struct.unpack_from("!H", frame, 12)[0], 14
    if kind == 0x8100 and len(frame) >= 18:
        kind, offset = struct.unpack_from("!H", frame, 16)[0], 18
    return kind, offset


def _icmp_offset(frame: bytes) -> int | None:
    found = _ethernet_payload(frame)
    if found is None or found[0] != ETH_IP or len(frame) < found[1] + 20:
        return None
    ip = found[1]
    if frame[ip] >> 4 != 4 or frame[ip + 9] != 1:
        return None
    return ip + (frame[ip] & 0x0F) * 4


def _packets_where(capture: Capture, test: Callable[[bytes], int | None]) -> list[int]:
    return [i for i in packet_units(capture) if test(packet_data(capture, i)) is not None]


def icmp_nonsense_quote(rng: random.Random, capture: Capture) -> bytes:
    """An ICMP message turned into an error whose quoted datagram is cut short or nonsense."""
    candidates = _packets_where(capture, _icmp_offset)
    if not candidates:
        return corrupt_bytes(rng, capture)
    index = rng.choice(candidates)
    frame = bytearray(packet_data(capture, index))
    icmp = _icmp_offset(bytes(frame))
    assert icmp is not None
    quote = bytearray(frame[icmp + 8:] or rng.randbytes(28))
    frame[icmp] = rng.choice(ICMP_ERROR_TYPES)
    frame[icmp + 1] = rng.randrange(16)
    _garble_quote(rng, quote)
    frame = frame[: icmp + 8] + quote
    if rng.random() < 0.5:  # outer IP total length true or lying
        ip = _ethernet_payload(bytes(frame))[1]
        struct.pack_into("!H", frame, ip + 2, min(len(frame) - ip, 0xFFFF))
    return with_packet_data(capture, index, bytes(frame)).join()


def _garble_quote(rng: random.Random, quote: bytearray) -> None:
    """Change the quoted datagram in place: one of the ways a quote can be wrong."""
    choice = rng.randrange(7)
    if choice == 0:
        del quote[rng.randrange(0, 29):]  # cut anywhere in the IP header or the ports
    elif choice == 1 and quote:
        quote[0] = (rng.choice((0, 4, 5, 6, 15)) << 4) | rng.randrange(16)  # version, IHL
    elif choice == 2 and len(quote) > 9:
        quote[9] = rng.choice((0, 1, 6, 17, 41, 58, 255))  # protocol
    elif choice == 3 and len(quote) > 4:
        struct.pack_into("!H", quote, 2, rng.choice((0, 1, 19, 20, 21, 0xFFFF)))  # total length
    elif choice == 4 and len(quote) > 20:
        # The quoted datagram is itself an ICMP error quoting a datagram (nesting).
        quote[9] = 1
        quote[20:] = bytes([3, rng.randrange(16), 0, 0, 0, 0, 0, 0]) + bytes(quote[:28])
    elif choice == 5 and len(quote) > 8:
        struct.pack_into("!H", quote, 6, rng.choice((0x2000, 0x1FFF, 0x3FFF)))  # fragments
    else:
        quote[:] = rng.randbytes(rng.randrange(0, 64))


def _arp_offset(frame: bytes) -> int | None:
    found = _ethernet_payload(frame)
    if found is None or found[0] != ETH_ARP or len(frame) < found[1] + 8:
        return None
    return found[1]


def arp_odd_sizes(rng: random.Random, capture: Capture) -> bytes:
    """An ARP packet whose hardware and protocol types and sizes are not Ethernet/IPv4."""
    candidates = _packets_where(capture, _arp_offset)
    if not candidates:
        return corrupt_bytes(rng, capture)
    index = rng.choice(candidates)
    frame = bytearray(packet_data(capture, index))
    arp = _arp_offset(bytes(frame))
    assert arp is not None
    hardware, protocol = rng.choice(ARP_SIZES), rng.choice(ARP_SIZES)
    if rng.random() < 0.3:
        struct.pack_into("!HH", frame, arp, rng.choice((0, 1, 6, 32, 0xFFFF)),
                         rng.choice((0, ETH_IP, 0x86DD, 0xFFFF)))
    frame[arp + 4], frame[arp + 5] = hardware, protocol
    struct.pack_into("!H", frame, arp + 6, rng.choice((1, 2, 1, 2, 0, 3, 8, 9, 0xFFFF)))
    body = 2 * (hardware + protocol)
    if rng.random() < 0.5:  # room for the claimed addresses, or not
        frame = frame[: arp + 8] + rng.randbytes(body)
    return with_packet_data(capture, index, bytes(frame)).join()


MUTATORS: dict[str, Callable[[random.Random, Capture], bytes]] = {
    "truncate": truncate,
    "corrupt-bytes": corrupt_bytes,
    "lying-length": lying_length,
    "wrong-link-type": wrong_link_type,
    "garbage-block": garbage_block,
    "odd-timestamps": odd_timestamps,
    "icmp-nonsense-quote": icmp_nonsense_quote,
    "arp-odd-sizes": arp_odd_sizes,
}


def mutate(kind: str, seed: int, original: bytes) -> bytes:
    return MUTATORS[kind](random.Random(seed), parse(original))
