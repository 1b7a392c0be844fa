"""UDP: the first datagram of each conversation, and tshark's per-conversation counts."""

from __future__ import annotations

import re
import sys

from netwhy.dissect.facts import UdpConversation, UdpFirst
from netwhy.dissect.row import Row, address, ip_addresses, number


def udp_first_from_row(row: Row, frame: int, time: float) -> UdpFirst | None:
    sport, dport = number(row, "udp.srcport"), number(row, "udp.dstport")
    src, dst = ip_addresses(row)
    if sport is None or dport is None or src is None or dst is None:
        return None
    return UdpFirst(frame=frame, time=time, src=src, dst=dst, sport=sport, dport=dport,
                    src_mac=address(row, "eth.src"), dst_mac=address(row, "eth.dst"))


# One line of `-z conv,udp`: "A:port <-> B:port  <- frames bytes unit  -> frames bytes unit
# total frames bytes unit  start  duration". "<-" counts B to A, "->" counts A to B.
# An IPv6 address runs up to the port's colon.
_CONVERSATION = re.compile(
    r"^(?P<a>[0-9.]+|[0-9a-f:.]+):(?P<ap>\d+)\s+<->\s+(?P<b>[0-9.]+|[0-9a-f:.]+):(?P<bp>\d+)\s+"
    r"(?P<ba>\d+)\s+\S+\s+\S+\s+(?P<ab>\d+)\s+\S+\s+\S+\s+\d+\s+\S+\s+\S+\s+"
    r"(?P<start>-?[0-9.]+)\s+(?P<duration>-?[0-9.]+)\s*$"
)


def udp_conversation_from_line(line: str) -> UdpConversation | None:
    """A line of the conversation tap, or None for headers and rules."""
    match = _CONVERSATION.match(line)
    if match is None:
        return None
    return UdpConversation(
        a=sys.intern(match["a"]),
        a_port=int(match["ap"]),
        b=sys.intern(match["b"]),
        b_port=int(match["bp"]),
        frames_a_to_b=int(match["ab"]),
        frames_b_to_a=int(match["ba"]),
        start=float(match["start"]),
        duration=float(match["duration"]),
    )
