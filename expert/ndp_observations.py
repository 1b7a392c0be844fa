"""Condensing Neighbor Discovery traffic (RFC 4861): who solicited whom, who answered, which
link-layer addresses claim which IPv6 address, duplicate address detection probes (RFC 4862),
who advertises itself as a router, and the redirects; and, from the other IPv6 frames
(`traffic`), which MAC each station sends through and which MACs deliver off-link traffic.

Everything is counted per asker, target, address, router or MAC with capped frame lists in
bounded tables, as in arp_observations.py: a solicitation storm or a prefix scan costs counters,
not a list of packets.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Collection
from dataclasses import dataclass, field

from netwhy.dissect import icmp6
from netwhy.dissect.facts import NdpMessage

MAX_FRAMES_KEPT = 32
# Per table; past it new keys are counted in `untracked` (each entry of most tables becomes a
# rules-engine fact, tens of KB each in durable-rules).
MAX_KEYS = 10_000
MAX_MACS = 32  # link-layer addresses kept per IPv6 address, per station pair
MAX_ASKERS = 64  # askers kept per solicited target, to match advertisements to them
MAX_PREFIXES = 16  # prefixes kept per router
USE_FRAMES = 8  # frames kept per traffic table entry
UNSPECIFIED = "::"
# An advertisement this long after a solicitation answers it even when sent to all nodes; a
# node's duplicate address detection waits as long (RETRANS_TIMER, 1 s, RFC 4861 section 10)
# for an answer to its probe before it takes the address.
SOLICITED_WINDOW_S = 1.0
DAD_WINDOW_S = 1.0
# First-hop redundancy virtual MACs for IPv6: VRRPv3 (RFC 5798 7.3, 00-00-5E-00-02-{VRID}),
# HSRP for IPv6 (00:05:73:a0:0x:xx), GLBP (00:07:b4:xx:xx:xx).
FHRP6_MACS = ("00:00:5e:00:02:", "00:05:73:a0:0", "00:07:b4:")


def is_fhrp_mac(mac: str) -> bool:
    return mac.lower().startswith(FHRP6_MACS)


def is_link_local(address: str) -> bool:
    """fe80::/10 (RFC 4291 2.5.6)."""
    return address[:3].lower() in ("fe8", "fe9", "fea", "feb")


def is_multicast(address: str) -> bool:
    return address[:2].lower() == "ff"


@functools.lru_cache(maxsize=65_536)
def prefix64(address: str) -> str:
    """The /64 an IPv6 address (or an advertised prefix) lies in, as text ("" if none)."""
    try:
        return ipaddress.IPv6Address(address).exploded[:19]
    except ValueError:
        return ""


def off_link(src: str, dst: str) -> bool:
    """Two global (or unique local) addresses in different /64s: a router is on the hop."""
    if UNSPECIFIED in (src, dst) or is_link_local(src) or is_link_local(dst):
        return False
    if is_multicast(src) or is_multicast(dst):
        return False
    first, second = prefix64(src), prefix64(dst)
    return bool(first and second) and first != second


def _keep(frames: list[int], frame: int, limit: int = MAX_FRAMES_KEPT) -> bool:
    if len(frames) < limit:
        frames.append(frame)
        return True
    return False


@dataclass(slots=True)
class Solicitation:
    """Neighbor Solicitations from one asker (its source address) for one target."""

    asker: str
    asker_mac: str
    target: str
    first_time: float
    last_time: float = 0.0
    count: int = 0
    frames: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # of the frames kept
    replies: int = 0
    reply_frames: list[int] = field(default_factory=list)
    answer_macs: list[str] = field(default_factory=list)


@dataclass(slots=True)
class DadProbe:
    """Duplicate address detection (RFC 4862 5.4): solicitations from :: for a tentative
    address, by the MACs that sent them, and advertisements or other nodes' probes that answered
    them (the address is taken)."""

    target: str
    macs: dict[str, list[float]] = field(default_factory=dict)  # prober -> [first, last] probe
    frames: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    answered: bool = False  # another node advertised it, or probed it too, within the window
    answer_macs: list[str] = field(default_factory=list)
    answer_frames: list[int] = field(default_factory=list)


@dataclass(slots=True)
class ClaimBy:
    """One link-layer address's claims of one IPv6 address."""

    first_time: float
    last_time: float
    frames: list[int] = field(default_factory=list)
    advertised: bool = False  # it sent advertisements for the address
    override: bool = False  # one of them had the override flag, or it used the address itself


@dataclass(slots=True)
class Claim:
    """Which link-layer addresses said "this IPv6 address is mine" (an advertisement for it, or a
    solicitation or advertisement sent from it), in the order they said it."""

    ip: str
    macs: dict[str, ClaimBy] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # mac of each change of claimant, capped

    def add(self, mac: str, frame: int, time: float, advertised: bool, override: bool) -> bool:
        """Note the claim; False when the address has too many claimants to track."""
        found = self.macs.get(mac)
        if found is None:
            if len(self.macs) >= MAX_MACS:
                return False
            found = self.macs[mac] = ClaimBy(time, time)
        found.first_time, found.last_time = min(found.first_time, time), max(found.last_time, time)
        _keep(found.frames, frame)
        found.advertised |= advertised
        found.override |= override
        if (not self.order or self.order[-1] != mac) and len(self.order) < MAX_FRAMES_KEPT:
            self.order.append(mac)
        return True

    @property
    def alternating(self) -> bool:
        """A link-layer address claims it again after another did: both are live."""
        return len(self.order) > len(set(self.order))


@dataclass(slots=True)
class Router:
    """Router Advertisements from one source address."""

    src: str
    mac: str
    dst: str  # of the first one: all nodes, or the soliciting host
    first_time: float
    last_time: float = 0.0
    count: int = 0
    frames: list[int] = field(default_factory=list)
    lifetime: int = -1  # the latest advertisement's router lifetime (-1: none read)
    max_lifetime: int = -1
    mtu: int = 0  # the latest MTU option (0: none)
    prefixes: list[str] = field(default_factory=list)
    # A lifetime 0 after a non-zero one: the withdrawal, its frames and the last offer before
    withdrawn_time: float = -1.0
    withdrawal_frames: list[int] = field(default_factory=list)
    offer_frame: int = -1  # the last advertisement with a non-zero lifetime before withdrawal
    withdrawal_dst: str = ""


@dataclass(slots=True)
class Redirect:
    """Redirects from one router to one host about one destination."""

    src: str  # the redirecting router
    src_mac: str
    host: str  # the redirected host (the redirect's IPv6 destination)
    destination: str
    target: str  # the better first hop (the destination itself when it is on-link)
    first_time: float
    last_time: float = 0.0
    count: int = 0
    frames: list[int] = field(default_factory=list)
    link_address: str = ""  # the target's link-layer address, when the redirect gave it
    hop_limit: int = 255  # the lowest seen
    code: int = 0  # the first code other than 0, if any


@dataclass(slots=True)
class Use:
    """Frames over one hop (a MAC): when first and last, and a few of them with their times."""

    first_time: float
    last_time: float
    frames: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    senders: list[str] = field(default_factory=list)  # source addresses, capped

    def add(self, frame: int, time: float, src: str) -> None:
        self.first_time, self.last_time = min(self.first_time, time), max(self.last_time, time)
        if _keep(self.frames, frame, USE_FRAMES):
            self.times.append(time)
        if len(self.senders) < USE_FRAMES and src not in self.senders:
            self.senders.append(src)

    def merge(self, other: Use) -> None:
        self.first_time = min(self.first_time, other.first_time)
        self.last_time = max(self.last_time, other.last_time)
        for frame, time in zip(other.frames, other.times, strict=True):
            if _keep(self.frames, frame, USE_FRAMES):
                self.times.append(time)
        for src in other.senders:
            if len(self.senders) < USE_FRAMES and src not in self.senders:
                self.senders.append(src)

    def frames_after(self, time: float) -> list[int]:
        return [frame for frame, at in zip(self.frames, self.times, strict=True) if at > time]


@dataclass
class NdpObservations:
    solicitations: dict[tuple[str, str], Solicitation] = field(default_factory=dict)
    askers_for: dict[str, list[str]] = field(default_factory=dict)  # target -> askers
    askers_answered: set[str] = field(default_factory=set)  # addresses advertisements went to
    probes: dict[str, DadProbe] = field(default_factory=dict)
    claims: dict[str, Claim] = field(default_factory=dict)
    routers: dict[str, Router] = field(default_factory=dict)
    redirects: dict[tuple[str, str, str], Redirect] = field(default_factory=dict)
    # From the other IPv6 frames (`traffic`): the MACs each (source, destination) pair went
    # through; frames between two /64s by (source MAC, destination MAC, source /64,
    # destination /64), which `routing` sorts into routers and first hops once the link's own
    # prefixes are known; and who sends from each address, by MAC, with the last time.
    hops: dict[tuple[str, str], dict[str, Use]] = field(default_factory=dict)
    crossings: dict[tuple[str, str, str, str], Use] = field(default_factory=dict)
    sources: dict[str, dict[str, float]] = field(default_factory=dict)
    untracked: int = 0

    def add(self, message: NdpMessage) -> None:
        mac = message.src_mac or ""
        if message.src != UNSPECIFIED and mac:
            self._source(message.src, mac, message.time)
        kind = message.type
        if kind == icmp6.NEIGHBOR_SOLICITATION and message.target:
            if message.src == UNSPECIFIED:
                self._probe(message, message.target, mac)
            else:
                self._solicit(message, message.target, mac)
        elif kind == icmp6.NEIGHBOR_ADVERTISEMENT and message.target:
            self._advertise(message, message.target, message.link_address or mac)
        elif kind == icmp6.ROUTER_ADVERTISEMENT:
            self._router(message, mac)
        elif kind == icmp6.ROUTER_SOLICITATION and message.src != UNSPECIFIED:
            self._claim(message.src, message.link_address or mac, message, own=True)
        elif kind == icmp6.REDIRECT and message.target and message.destination:
            # (without its destination it was cut short: tshark calls it malformed)
            self._redirect(message, message.target, mac)

    def traffic(self, frame: int, time: float, src_mac: str | None, dst_mac: str | None,
                src: str, dst: str) -> None:
        """An IPv6 frame other than Neighbor Discovery's (ICMPv6, a TCP SYN or reset, a UDP
        conversation's first datagram): which MAC it went through."""
        if not src_mac or not dst_mac or src_mac.startswith("33:33") or dst_mac.startswith(
                ("33:33", "ff:ff:ff:ff:ff:ff")):
            return
        if src != UNSPECIFIED and not is_multicast(src):
            self._source(src, src_mac, time)
        if is_multicast(dst):
            return
        key = (src, dst)
        if self._bounded(self.hops, key):
            macs = self.hops.setdefault(key, {})
            use = macs.get(dst_mac)
            if use is None and len(macs) < MAX_MACS:
                use = macs[dst_mac] = Use(time, time)
            if use is not None:
                use.add(frame, time, src)
        if off_link(src, dst):
            crossing = (src_mac, dst_mac, prefix64(src), prefix64(dst))
            if self._bounded(self.crossings, crossing):
                self.crossings.setdefault(crossing, Use(time, time)).add(frame, time, src)

    # --- what the rules ask ---------------------------------------------------------------

    def local_prefixes(self) -> set[str]:
        """The link's /64s: those of the addresses claimed in its Neighbor Discovery, and the
        prefixes its routers advertise."""
        local = {prefix64(ip) for ip in self.claims if not is_link_local(ip)}
        local |= {prefix64(p) for router in self.routers.values() for p in router.prefixes}
        local.discard("")
        return local

    def routing(self) -> tuple[dict[str, Use], dict[str, Use]]:
        """The MACs that delivered off-link sources onto the link (its routers), and those its
        stations sent off-link traffic to (their first hops), with that traffic."""
        local = self.local_prefixes()
        delivered: dict[str, Use] = {}
        first_hops: dict[str, Use] = {}
        for (src_mac, dst_mac, src_net, dst_net), use in self.crossings.items():
            if src_net not in local and dst_net in local:
                table, mac = delivered, src_mac
            elif src_net in local and dst_net not in local:
                table, mac = first_hops, dst_mac
            else:
                continue
            table.setdefault(mac, Use(use.first_time, use.last_time)).merge(use)
        return delivered, first_hops

    def macs_of(self, address: str) -> set[str]:
        claim = self.claims.get(address)
        return set(claim.macs) if claim else set()

    def sent_from(self, address: str) -> bool:
        """Something sent from the address in this capture (Neighbor Discovery or other)."""
        return address in self.sources

    # --- condensing -----------------------------------------------------------------------

    def _bounded(self, table: Collection, key) -> bool:
        if key in table:
            return True
        if len(table) >= MAX_KEYS:
            self.untracked += 1
            return False
        return True

    def _source(self, address: str, mac: str, time: float) -> None:
        if self._bounded(self.sources, address):
            macs = self.sources.setdefault(address, {})
            if mac in macs or len(macs) < MAX_MACS:
                macs[mac] = max(macs.get(mac, time), time)

    def _claim(self, ip: str, mac: str, message: NdpMessage, own: bool = False,
               advertised: bool = False, override: bool = False) -> None:
        if not mac or ip == UNSPECIFIED or is_multicast(ip) or not self._bounded(self.claims, ip):
            return
        claim = self.claims.setdefault(ip, Claim(ip))
        if not claim.add(mac, message.frame, message.time, advertised, override or own):
            self.untracked += 1

    def _probe(self, message: NdpMessage, target: str, mac: str) -> None:
        if not mac or not self._bounded(self.probes, target):
            return
        probe = self.probes.setdefault(target, DadProbe(target))
        # Another node probing the same tentative address at the same time (RFC 4862 5.4.3).
        if any(other != mac and message.time - last <= DAD_WINDOW_S
               for other, (_, last) in probe.macs.items()):
            probe.answered = True
            if mac not in probe.answer_macs and len(probe.answer_macs) < MAX_MACS:
                probe.answer_macs.append(mac)
            _keep(probe.answer_frames, message.frame)
        times = probe.macs.get(mac)
        if times is None:
            if len(probe.macs) >= MAX_MACS:
                self.untracked += 1
                return
            probe.macs[mac] = [message.time, message.time]
        else:
            times[1] = message.time
        if _keep(probe.frames, message.frame):
            probe.times.append(message.time)

    def _solicit(self, message: NdpMessage, target: str, mac: str) -> None:
        self._claim(message.src, message.link_address or mac, message, own=True)
        key = (message.src, target)
        if not self._bounded(self.solicitations, key):
            return
        found = self.solicitations.get(key)
        if found is None:
            found = self.solicitations[key] = Solicitation(message.src, mac, target, message.time)
            askers = self.askers_for.setdefault(target, [])
            if len(askers) < MAX_ASKERS:
                askers.append(message.src)
        found.count += 1
        found.last_time = message.time
        if _keep(found.frames, message.frame):
            found.times.append(message.time)

    def _advertise(self, message: NdpMessage, target: str, mac: str) -> None:
        self._claim(target, mac, message, advertised=True, override=message.override)
        if not is_multicast(message.dst) and self._bounded(self.askers_answered, message.dst):
            self.askers_answered.add(message.dst)
        if is_multicast(message.dst):  # unsolicited: it answers whoever asked just before
            askers = [asker for asker in self.askers_for.get(target, ())
                      if 0 <= message.time - self.solicitations[(asker, target)].last_time
                      <= SOLICITED_WINDOW_S]
        else:
            askers = [message.dst] if (message.dst, target) in self.solicitations else []
        for asker in askers:
            found = self.solicitations[(asker, target)]
            found.replies += 1
            _keep(found.reply_frames, message.frame)
            if mac and mac not in found.answer_macs and len(found.answer_macs) < MAX_MACS:
                found.answer_macs.append(mac)
        probe = self.probes.get(target)
        if probe is not None and mac and any(
                other != mac and 0 <= message.time - last <= DAD_WINDOW_S
                for other, (_, last) in probe.macs.items()):
            probe.answered = True
            if mac not in probe.answer_macs and len(probe.answer_macs) < MAX_MACS:
                probe.answer_macs.append(mac)
            _keep(probe.answer_frames, message.frame)

    def _router(self, message: NdpMessage, mac: str) -> None:
        self._claim(message.src, message.link_address or mac, message, own=True)
        if not self._bounded(self.routers, message.src):
            return
        router = self.routers.get(message.src)
        if router is None:
            router = self.routers[message.src] = Router(
                message.src, message.link_address or mac, message.dst, message.time)
        router.count += 1
        router.last_time = message.time
        _keep(router.frames, message.frame)
        lifetime = message.router_lifetime
        if lifetime is not None:
            if lifetime == 0 and router.max_lifetime > 0:
                if router.withdrawn_time < 0:
                    router.withdrawn_time = message.time
                    router.withdrawal_dst = message.dst
                _keep(router.withdrawal_frames, message.frame)
            elif lifetime > 0 and router.withdrawn_time < 0:
                router.offer_frame = message.frame
            router.lifetime = lifetime
            router.max_lifetime = max(router.max_lifetime, lifetime)
        if message.mtu is not None:
            router.mtu = message.mtu
        for prefix in message.prefixes:
            if prefix not in router.prefixes and len(router.prefixes) < MAX_PREFIXES:
                router.prefixes.append(prefix)

    def _redirect(self, message: NdpMessage, target: str, mac: str) -> None:
        destination = message.destination or ""
        key = (message.src, message.dst, destination)
        if not self._bounded(self.redirects, key):
            return
        found = self.redirects.get(key)
        if found is None:
            found = self.redirects[key] = Redirect(
                message.src, mac, message.dst, destination, target, message.time)
        found.count += 1
        found.last_time = message.time
        _keep(found.frames, message.frame)
        found.link_address = message.link_address or found.link_address
        if message.hop_limit is not None:
            found.hop_limit = min(found.hop_limit, message.hop_limit)
        if message.code and not found.code:
            found.code = message.code
