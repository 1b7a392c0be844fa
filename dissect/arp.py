"""ARP requests and replies (RFC 826)."""

from __future__ import annotations

from netwhy.dissect.facts import ArpMessage
from netwhy.dissect.row import Row, address, number

REQUEST = 1  # ARP opcodes (RFC 826)
REPLY = 2


def arp_from_row(row: Row, frame: int, time: float) -> ArpMessage | None:
    opcode = number(row, "arp.opcode")
    sender_ip = address(row, "arp.src.proto_ipv4")
    target_ip = address(row, "arp.dst.proto_ipv4")
    if opcode is None or sender_ip is None or target_ip is None:
        return None  # not Ethernet/IPv4 ARP (odd hardware or protocol sizes)
    return ArpMessage(
        frame=frame,
        time=time,
        opcode=opcode,
        sender_mac=address(row, "arp.src.hw_mac") or "",
        sender_ip=sender_ip,
        target_mac=address(row, "arp.dst.hw_mac") or "",
        target_ip=target_ip,
        eth_src=address(row, "eth.src"),
    )
