"""Which MAC carries which IP traffic across subnets: how netwhy learns a segment's gateway
from the wire, without being told.

A frame whose IP addresses lie on different subnets has a router at one end of its Ethernet
hop: the MAC that delivers a remote source onto the segment, or the MAC a local station sends
its remote destinations to. The IP frames tshark reads (ICMP, TCP SYNs and resets, each UDP
conversation's first datagram) are enough to learn it, in a file and live alike; bulk data
would mostly repeat it (what it misses: a connection opened before an ARP spoof whose later
data alone goes to the claimant; the prefilter could follow that, as it does TCP). Kept
per (source MAC, destination MAC, source subnet, destination subnet), with capped frames,
in a bounded table: a scan of a million addresses costs a counter, not a million entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netwhy.expert.addresses import HINT_PREFIX

# (source MAC, destination MAC, source subnet, destination subnet) kept; past it, new ones are
# counted in `untracked`. Subnets, not addresses: a busy gateway talks to thousands of remote
# hosts, all behind one hop, and a station's subnet is all a rule needs to place it.
MAX_CROSSINGS = 2_000
MAX_KEPT = 8  # frames, and sending addresses, kept per crossing
assert HINT_PREFIX == 24  # add() takes the subnet as the address's first three numbers
# Not a station: broadcast, IPv4 multicast (01:00:5e), IPv6 multicast (33:33).
_GROUP_PREFIXES = ("ff:ff:ff:ff:ff:ff", "01:00:5e", "33:33")


@dataclass(slots=True)
class Crossing:
    """IP frames from one subnet to another over one Ethernet hop (src_mac to dst_mac)."""

    src_mac: str
    dst_mac: str
    src: str  # the first source address seen, standing for its subnet
    dst: str  # the first destination address seen
    first_time: float
    last_time: float
    senders: list[str] = field(default_factory=list)  # source addresses, capped
    frames: list[int] = field(default_factory=list)


@dataclass
class LinkUse:
    crossings: dict[tuple[str, str, str, str], Crossing] = field(default_factory=dict)
    untracked: int = 0

    def add(self, frame: int, time: float, src_mac: str | None, dst_mac: str | None,
            src: str, dst: str) -> None:
        if (not src_mac or not dst_mac or src_mac.startswith(_GROUP_PREFIXES)
                or dst_mac.startswith(_GROUP_PREFIXES)):
            return
        # The /24 (addresses.HINT_PREFIX) as text, the address up to its last dot: this runs
        # for every IP fact, and slicing a string costs a tenth of parsing the address.
        src_net, dst_net = src.rpartition(".")[0], dst.rpartition(".")[0]
        if not src_net or src_net == dst_net:
            return  # one subnet: no router on this hop
        key = (src_mac, dst_mac, src_net, dst_net)
        crossing = self.crossings.get(key)
        if crossing is None:
            if len(self.crossings) >= MAX_CROSSINGS:
                self.untracked += 1
                return
            crossing = self.crossings[key] = Crossing(src_mac, dst_mac, src, dst, time, time)
        crossing.first_time = min(crossing.first_time, time)
        crossing.last_time = max(crossing.last_time, time)
        if len(crossing.senders) < MAX_KEPT and src not in crossing.senders:
            crossing.senders.append(src)
        if len(crossing.frames) < MAX_KEPT:
            crossing.frames.append(frame)
