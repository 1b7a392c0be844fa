"""Condensing ARP traffic: who asked for whom, who answered, and which MAC claims which address.

Everything is counted per asker, target, address or MAC with capped frame lists, so an ARP storm
of millions of requests costs a handful of counters, not a list of packets.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection
from dataclasses import dataclass, field

from netwhy.dissect import arp as arp_numbers
from netwhy.dissect.facts import ArpMessage
from netwhy.expert.addresses import same_subnet, shared_prefix

MAX_FRAMES_KEPT = 32
# Per table; past it new keys are counted in `untracked`. Every entry of most tables becomes a
# rules-engine fact (tens of KB each in durable-rules), so a storm must not reach it whole.
MAX_KEYS = 10_000
MAX_TARGETS_KEPT = 1024  # addresses kept per station (asked for, answered for, used)
# Requests kept per asker's storm window: past it the window forgets its oldest, so the peak
# rate reads as at least this many per window (thousands of times the storm threshold).
MAX_WINDOW = 100_000
BROADCAST_OR_EMPTY = {"ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00", ""}
# A reply this long after the asker's last request answers nothing (kb: arp.unanswered's
# reply_window_s: a present host answers in milliseconds, and Linux asks again after a second).
SOLICITED_WINDOW_S = 1.0


def _keep(frames: list[int], frame: int) -> None:
    if len(frames) < MAX_FRAMES_KEPT:
        frames.append(frame)


def _add_capped(addresses: set[str], address: str) -> None:
    if len(addresses) < MAX_TARGETS_KEPT:
        addresses.add(address)


@dataclass(slots=True)
class ArpQuery:
    """Requests from one asker for one target address, and the replies they drew."""

    asker_ip: str
    asker_mac: str
    target_ip: str
    first_time: float
    last_time: float = 0.0
    requests: int = 0
    replies: int = 0
    request_frames: list[int] = field(default_factory=list)
    reply_frames: list[int] = field(default_factory=list)
    answer_macs: set[str] = field(default_factory=set)


@dataclass(slots=True)
class AddressClaim:
    """Which MACs said "this IP is at my MAC", in the order they said it."""

    ip: str
    macs: dict[str, list[int]] = field(default_factory=dict)  # mac -> frames
    order: list[str] = field(default_factory=list)  # mac of each change of claimant, capped
    times: dict[str, list[float]] = field(default_factory=dict)  # mac -> [first, last] claim

    def add(self, mac: str, frame: int, time: float) -> bool:
        """Note the claim; False when the address already has too many claimants to track."""
        if mac not in self.macs and len(self.macs) >= MAX_FRAMES_KEPT:
            return False
        frames = self.macs.setdefault(mac, [])
        _keep(frames, frame)
        times = self.times.setdefault(mac, [time, time])
        times[0], times[1] = min(times[0], time), max(times[1], time)
        if (not self.order or self.order[-1] != mac) and len(self.order) < MAX_FRAMES_KEPT:
            self.order.append(mac)
        return True

    @property
    def interleaved(self) -> bool:
        """A MAC claims the address again after another did: a live conflict."""
        return len(self.order) > len(set(self.order))


@dataclass(slots=True)
class Replies:
    """ARP replies from one MAC about one address that answered no request: how many, to whom."""

    unsolicited: int = 0
    targets: dict[str, str] = field(default_factory=dict)  # IP -> MAC told, unsolicited, capped
    frames: list[int] = field(default_factory=list)  # the unsolicited ones


@dataclass(slots=True)
class Announcement:
    """Gratuitous ARP (sender and target address equal) or an RFC 5227 probe."""

    ip: str
    mac: str
    probe: bool
    count: int = 0
    frames: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Asker:
    """One station's ARP requests over time, for storm detection."""

    mac: str
    ip: str
    requests: int = 0
    peak: int = 0  # most requests inside one window
    peak_time: float = 0.0
    targets: set[str] = field(default_factory=set)
    more_targets: bool = False  # asked for more distinct addresses than `targets` keeps
    frames: list[int] = field(default_factory=list)
    window: deque[float] = field(default_factory=deque)


@dataclass
class ArpObservations:
    window_s: float = 1.0  # storm window, from the knowledge base
    queries: dict[tuple[str, str], ArpQuery] = field(default_factory=dict)
    claims: dict[str, AddressClaim] = field(default_factory=dict)
    # mac -> addresses it answered for, on the asker's (hinted) subnet or off it
    answered_on_subnet: dict[str, set[str]] = field(default_factory=dict)
    answered_off_subnet: dict[str, set[str]] = field(default_factory=dict)
    answer_frames: dict[str, list[int]] = field(default_factory=dict)
    # mac -> the fewest leading bits an asker shared with an off-subnet address it answered
    answered_prefix: dict[str, int] = field(default_factory=dict)
    replies: dict[tuple[str, str], Replies] = field(default_factory=dict)  # (mac, ip)
    own_ips: dict[str, set[str]] = field(default_factory=dict)  # mac -> IPs it asks from
    announcements: dict[tuple[str, str], Announcement] = field(default_factory=dict)
    askers: dict[str, Asker] = field(default_factory=dict)
    askers_answered: set[str] = field(default_factory=set)  # IPs that got any reply
    untracked: int = 0

    def add(self, arp: ArpMessage) -> None:
        if arp.sender_ip == "0.0.0.0":
            self._announce(arp, probe=True)
            return
        if arp.target_ip == "0.0.0.0":
            return  # asks for no address: malformed or a tool's oddity, not a lookup to judge
        if arp.sender_ip == arp.target_ip:
            self._announce(arp, probe=False)
            self._claim(arp.sender_ip, arp.sender_mac, arp.frame, arp.time)
            return
        self._claim(arp.sender_ip, arp.sender_mac, arp.frame, arp.time)
        if arp.opcode == arp_numbers.REQUEST:
            self._request(arp)
        elif arp.opcode == arp_numbers.REPLY:
            self._reply(arp)

    def _bounded(self, table: Collection, key) -> bool:
        if key in table:
            return True
        if len(table) >= MAX_KEYS:
            self.untracked += 1
            return False
        return True

    def _claim(self, ip: str, mac: str, frame: int, time: float) -> None:
        if mac in BROADCAST_OR_EMPTY or not self._bounded(self.claims, ip):
            return
        if not self.claims.setdefault(ip, AddressClaim(ip)).add(mac, frame, time):
            self.untracked += 1

    def _announce(self, arp: ArpMessage, probe: bool) -> None:
        ip = arp.target_ip if probe else arp.sender_ip
        key = (ip, arp.sender_mac)
        if not self._bounded(self.announcements, key):
            return
        found = self.announcements.setdefault(key, Announcement(ip, arp.sender_mac, probe))
        found.count += 1
        _keep(found.frames, arp.frame)

    def _request(self, arp: ArpMessage) -> None:
        key = (arp.sender_ip, arp.target_ip)
        if self._bounded(self.queries, key):
            query = self.queries.setdefault(
                key, ArpQuery(arp.sender_ip, arp.sender_mac, arp.target_ip, arp.time)
            )
            query.requests += 1
            query.last_time = arp.time
            _keep(query.request_frames, arp.frame)
        if self._bounded(self.own_ips, arp.sender_mac):
            _add_capped(self.own_ips.setdefault(arp.sender_mac, set()), arp.sender_ip)
        self._count_asker(arp)

    def _reply(self, arp: ArpMessage) -> None:
        if self._bounded(self.askers_answered, arp.target_ip):
            self.askers_answered.add(arp.target_ip)
        if self._bounded(self.answer_frames, arp.sender_mac):
            # A station answers for its own address on the asker's subnet; an answer for an
            # address off that subnet is a router answering on another's behalf (proxy ARP).
            on_subnet = same_subnet(arp.sender_ip, arp.target_ip)
            table = self.answered_on_subnet if on_subnet else self.answered_off_subnet
            _add_capped(table.setdefault(arp.sender_mac, set()), arp.sender_ip)
            _keep(self.answer_frames.setdefault(arp.sender_mac, []), arp.frame)
            if not on_subnet:
                bits = shared_prefix(arp.sender_ip, arp.target_ip)
                known = self.answered_prefix.get(arp.sender_mac, 32)
                self.answered_prefix[arp.sender_mac] = min(known, bits)
        query = self.queries.get((arp.target_ip, arp.sender_ip))
        if query is None or not 0 <= arp.time - query.last_time <= SOLICITED_WINDOW_S:
            self._unsolicited(arp)
        if query is not None:
            query.replies += 1
            if len(query.answer_macs) < MAX_FRAMES_KEPT:
                query.answer_macs.add(arp.sender_mac)
            _keep(query.reply_frames, arp.frame)

    def _unsolicited(self, arp: ArpMessage) -> None:
        """A reply that answers no request (none, or none within the window before it)."""
        key = (arp.sender_mac, arp.sender_ip)
        if arp.sender_mac in BROADCAST_OR_EMPTY or not self._bounded(self.replies, key):
            return
        replies = self.replies.setdefault(key, Replies())
        replies.unsolicited += 1
        _keep(replies.frames, arp.frame)
        if len(replies.targets) < MAX_FRAMES_KEPT:
            replies.targets.setdefault(arp.target_ip, arp.target_mac)

    def _count_asker(self, arp: ArpMessage) -> None:
        if not self._bounded(self.askers, arp.sender_mac):
            return
        asker = self.askers.setdefault(arp.sender_mac, Asker(arp.sender_mac, arp.sender_ip))
        asker.requests += 1
        if len(asker.targets) < MAX_TARGETS_KEPT:
            asker.targets.add(arp.target_ip)
        elif arp.target_ip not in asker.targets:
            asker.more_targets = True
        window = asker.window
        window.append(arp.time)
        while window and window[0] <= arp.time - self.window_s:
            window.popleft()
        if len(window) > MAX_WINDOW:
            window.popleft()
            self.untracked += 1
        if len(window) > asker.peak:
            asker.peak, asker.peak_time = len(window), arp.time
            _keep(asker.frames, arp.frame)
