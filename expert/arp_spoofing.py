"""Who claims an address that another MAC holds, and whether that claim is an attack.

The legitimate holder of an address is the MAC that claimed it first in ARP or, for a
gateway, the MAC that delivers remote traffic onto the segment (link_use.py); when the capture
shows only the claimant's ARP (it started after the real one's), the MAC the victims sent
their remote traffic to before the claim, and which routes it. A later claim by another MAC
is weighed against what the capture shows:

- a takeover (the old MAC never claims the address again after the new one's first claim, and
  either the new one announced itself by gratuitous ARP or the old one routes no more: a
  replaced card, a failover) is no attack, nor a conflict;
- a claim is suspect when the claimant sends replies nobody asked for; when it relays the
  stations' remote traffic to the holder (a man in the middle: a new master routes it
  itself); or when it contradicts
  the MAC that routes the segment's traffic, the claimant routed nothing before, it did not
  announce itself by gratuitous ARP as a new master does, and the stations' remote traffic
  then flows to it or it claims several contested addresses;
- virtual router MACs (VRRP, HSRP, GLBP) move and share addresses by design and are left out.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from netwhy.expert.addresses import subnet_of
from netwhy.expert.arp_observations import AddressClaim, ArpObservations
from netwhy.expert.link_use import Crossing, LinkUse

# First octets of virtual router MACs: VRRP (RFC 5798), HSRP v1/v2, GLBP.
VIRTUAL_ROUTER_MACS = ("00:00:5e:00:01", "00:00:0c:07:ac", "00:00:0c:9f:f", "00:07:b4:00")
MAX_FRAMES = 16
MAX_VICTIMS = 32


def is_virtual(mac: str) -> bool:
    return mac.startswith(VIRTUAL_ROUTER_MACS)


@dataclass
class Segment:
    """What the capture shows of the segment: its addresses, and who routes when."""

    arp: ArpObservations
    links: LinkUse
    local_nets: set[int] = field(init=False)  # the segment's subnets (hint masks)
    # MAC -> first and last time it delivered a remote source onto the segment
    routes_from: dict[str, tuple[float, float]] = field(init=False)
    # Local stations' remote traffic, by the MAC it went to and by the station that sent it.
    sent_to: dict[str, list[Crossing]] = field(init=False)
    sent_by: dict[str, list[Crossing]] = field(init=False)

    def __post_init__(self) -> None:
        # Who speaks ARP, and who is answered in it, is on the segment.
        speakers = set(self.arp.claims) | set(self.arp.askers_answered)
        self.local_nets = {net for ip in speakers if (net := subnet_of(ip)) is not None}
        self.routes_from, self.sent_to, self.sent_by = {}, {}, {}
        for crossing in self.links.crossings.values():
            if self.local(crossing.src):  # a local station's own traffic
                if not self.local(crossing.dst):
                    self.sent_to.setdefault(crossing.dst_mac, []).append(crossing)
                    for sender in crossing.senders:
                        self.sent_by.setdefault(sender, []).append(crossing)
                continue
            first, last = self.routes_from.get(crossing.src_mac,
                                               (crossing.first_time, crossing.last_time))
            self.routes_from[crossing.src_mac] = (min(first, crossing.first_time),
                                                  max(last, crossing.last_time))

    def local(self, address: str) -> bool:
        return subnet_of(address) in self.local_nets

    def active_after(self, mac: str, claim: AddressClaim, since: float) -> bool:
        """`mac` still acts as the address's holder after `since`: it claims it again, or
        delivers remote traffic onto the segment."""
        claimed, routes = claim.times.get(mac), self.routes_from.get(mac)
        return (claimed is not None and claimed[1] > since) or (
            routes is not None and routes[1] > since)

    def relayed(self, mac: str, holder: str, since: float) -> list[int]:
        """Frames of local stations' remote traffic that `mac` passed on to `holder`."""
        return sorted(frame for crossing in self.sent_to.get(holder, [])
                      if crossing.src_mac == mac and crossing.last_time >= since
                      for frame in crossing.frames)[:MAX_FRAMES]

    def gateway_before(self, stations: Collection[str], since: float) -> str | None:
        """The routing MAC that `stations` sent their remote traffic to before `since`."""
        used = [crossing for station in stations for crossing in self.sent_by.get(station, [])
                if crossing.first_time < since and crossing.dst_mac in self.routes_from]
        return min(used, key=lambda crossing: crossing.first_time).dst_mac if used else None

    def routes_before(self, mac: str, time: float) -> bool:
        known = self.routes_from.get(mac)
        return known is not None and known[0] < time

    def diverted(self, mac: str, since: float) -> tuple[list[str], list[int]]:
        """Local stations' remote traffic sent to `mac` from `since` on: the stations, frames."""
        victims: list[str] = []
        frames: list[int] = []
        for crossing in self.sent_to.get(mac, []):
            if crossing.last_time >= since:
                victims += [sender for sender in crossing.senders if sender not in victims]
                frames += crossing.frames
        return victims[:MAX_VICTIMS], sorted(frames)[:MAX_FRAMES]


def taken_over(claim: AddressClaim, segment: Segment) -> bool:
    """Each claimant took the address over from the one before, which never acted as its
    holder again: a replaced card or a failover, not two machines at once."""
    if claim.interleaved or len(claim.order) < 2:
        return False
    for old, new in zip(claim.order, claim.order[1:], strict=False):
        since = claim.times[new][0]
        if claim.times[old][1] > since:
            return False  # the old MAC claims it again
        routes = segment.routes_from.get(old)
        if (claim.ip, new) not in segment.arp.announcements and routes and routes[1] > since:
            return False  # unannounced, while the old MAC still routes
    return True


def spoof_facts(segment: Segment) -> Iterator[dict[str, Any]]:
    arp = segment.arp
    contested = {ip: claim for ip, claim in arp.claims.items() if len(claim.macs) > 1}
    held: dict[str, list[str]] = {}  # MAC -> the contested addresses it claims
    for ip, claim in contested.items():
        for mac in claim.macs:
            held.setdefault(mac, []).append(ip)
    # A lone claimant that replies unasked: the real holder may have spoken before the capture.
    unasked = {ip: claim for ip, claim in arp.claims.items()
               if len(claim.macs) == 1 and _unsolicited(arp, next(iter(claim.macs)), ip)}
    for claim in [*contested.values(), *unasked.values()]:
        for mac in claim.macs:
            fact = _judged(segment, sorted(held.get(mac, [])), claim, mac)
            if fact is not None:
                yield fact


def _unsolicited(arp: ArpObservations, mac: str, ip: str) -> int:
    replies = arp.replies.get((mac, ip))
    return replies.unsolicited if replies else 0


def _judged(segment: Segment, several: list[str], claim: AddressClaim,
            mac: str) -> dict[str, Any] | None:
    if is_virtual(mac):
        return None
    since = claim.times[mac][0]
    arp = segment.arp
    replies = arp.replies.get((mac, claim.ip))
    holder = _holder(segment, claim, mac, since)
    if holder is None and replies and replies.unsolicited:
        holder = segment.gateway_before(replies.targets, since)
    if holder is None or holder == mac or not segment.active_after(holder, claim, since):
        return None  # the first claimant, or one that took over from a holder gone quiet
    unsolicited = replies.unsolicited if replies else 0
    contradicts = holder in segment.routes_from and not segment.routes_before(mac, since)
    victims, diverted_frames = segment.diverted(mac, since)
    relayed = segment.relayed(mac, holder, since)
    announced = (claim.ip, mac) in arp.announcements  # as a new master or a moved host does
    if not (unsolicited or relayed
            or (contradicts and not announced and (victims or len(several) > 1))):
        return None
    if replies:
        victims = list(dict.fromkeys([*replies.targets, *victims]))[:MAX_VICTIMS]
    own = sorted(arp.own_ips.get(mac, set()) - set(several))
    victims = [victim for victim in victims if victim not in own and victim != claim.ip]
    frames = set(claim.macs.get(holder, [])[:2]) | set((replies.frames if replies else [])[:8])
    frames |= set(claim.macs[mac][:8] if not unsolicited else []) | set(diverted_frames[:4])
    frames |= set(relayed[:2])
    return {
        "kind": "arp_spoof", "key": f"spoof:{claim.ip}:{mac}", "ip": claim.ip, "mac": mac,
        "holder": holder, "claimant_ips": own, "victims": victims,
        "unsolicited": unsolicited, "contradicts_router": contradicts,
        "claimed": several, "diverted": len(diverted_frames), "relayed": len(relayed),
        "frames": sorted(frames),
    }


def _holder(segment: Segment, claim: AddressClaim, mac: str, since: float) -> str | None:
    """The MAC that held the address before `mac` claimed it: the one routing the segment's
    remote traffic if any did, else the earliest claimant."""
    earlier = [other for other in claim.macs
               if other != mac and (claim.times[other][0] < since
                                    or segment.routes_before(other, since))]
    routers = [other for other in earlier if other in segment.routes_from]
    pool = routers or earlier
    return min(pool, key=lambda other: claim.times[other][0]) if pool else None
