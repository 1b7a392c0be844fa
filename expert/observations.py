"""Condensing the fact stream into what the rules reason about.

The rules engine is fed conclusions about conversations and groups of ICMP errors, never raw
packets: a scan that draws ten thousand port unreachables is one error group with a count, and a
million TCP connections are counters, not a million engine facts.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sized
from dataclasses import dataclass, field

from netwhy.dissect import icmp, icmp6
from netwhy.dissect.facts import (
    ArpMessage,
    Fact,
    IcmpMessage,
    NdpMessage,
    TcpControl,
    TcpStall,
    UdpConversation,
    UdpFirst,
)
from netwhy.dissect.ip import PROTO_ICMP, PROTO_ICMPV6, PROTOCOL_NAMES
from netwhy.expert.addresses import is_multicast_or_broadcast
from netwhy.expert.arp_observations import ArpObservations
from netwhy.expert.link_use import LinkUse
from netwhy.expert.ndp_observations import NdpObservations

MAX_FRAMES_KEPT = 32  # evidence frames kept per group; the count keeps the rest
MAX_CONVERSATIONS = 200_000  # state cap: past it, new conversations are counted, not tracked
# Cap on tables whose every entry becomes a rules-engine fact (error groups, ICMP queries,
# unknown types, loops): durable-rules holds tens of KB per fact, so an ICMP flood about a
# million conversations must not reach it whole.
MAX_REPORTED = 10_000

ServiceKey = tuple[str, str, str, int]  # proto, client, server, server port (-1 for ICMP echo)
DatagramKey = tuple[str, str, int, int]  # src, dst, IP protocol, IP id: one datagram on the wire

# ICMP queries netwhy pairs up (RFC 792, RFC 950): request type -> (name, reply type).
QUERIES = {icmp.TIMESTAMP: ("timestamp", icmp.TIMESTAMP_REPLY),
           icmp.MASK_REQUEST: ("address-mask", icmp.MASK_REPLY)}
REPLY_TO_QUERY = {reply: (name, request) for request, (name, reply) in QUERIES.items()}
HANDLED_TYPES = frozenset(
    {icmp.ECHO_REPLY, icmp.ECHO, *icmp.ERROR_TYPES, *QUERIES, *REPLY_TO_QUERY})


@dataclass(frozen=True)
class IcmpFamily:
    """What differs between ICMP and ICMPv6 as far as observing goes: the numbers."""

    family: int
    protocol: int  # its IP protocol number
    proto: str  # its name, the echo service's protocol
    echo: int
    echo_reply: int
    error_kinds: dict[int, str]  # error type -> the kind of error, in words both share
    handled: frozenset[int]  # the other types are unknown, or chatter of no rule's concern


ICMP4 = IcmpFamily(4, PROTO_ICMP, "icmp", icmp.ECHO, icmp.ECHO_REPLY, icmp.ERROR_KINDS,
                   HANDLED_TYPES)
ICMP6 = IcmpFamily(6, PROTO_ICMPV6, "icmpv6", icmp6.ECHO, icmp6.ECHO_REPLY, icmp6.ERROR_KINDS,
                   frozenset({icmp6.ECHO, icmp6.ECHO_REPLY, *icmp6.ERROR_TYPES}))
FAMILIES = {4: ICMP4, 6: ICMP6}
ECHO_PROTOS = frozenset({ICMP4.proto, ICMP6.proto})  # services that are pings


@dataclass(slots=True)
class ErrorGroup:
    """ICMP errors of one type and code, from one sender, about one client -> service."""

    gid: int
    type: int
    code: int
    sender: str
    receiver: str
    proto: str
    q_src: str
    q_dst: str
    q_dport: int
    first_time: float
    last_time: float = 0.0
    count: int = 0
    frames: list[int] = field(default_factory=list)
    sports: set[int] = field(default_factory=set)
    mtus: set[int] = field(default_factory=set)
    gateways: set[str] = field(default_factory=set)
    df: bool | None = None
    quoted_ttl: int | None = None  # the lowest TTL quoted
    quoted_icmp_type: int = -1  # when the quoted datagram was ICMP (8: an echo request)
    origin_ttl: int = -1  # TTL the quoted datagram left with, when the capture saw it leave
    pointer: int = -1  # parameter problem
    sender_mac: str = ""
    family: int = 4  # 6: ICMPv6, whose type numbers are its own

    @property
    def kind(self) -> str:
        """unreachable, too-big, time-exceeded, parameter-problem, redirect or source-quench:
        the kind of error, in words both families share."""
        return FAMILIES[self.family].error_kinds[self.type]

    @property
    def port_unreachable(self) -> bool:
        port = icmp.UNREACH_PORT if self.family == 4 else icmp6.UNREACH_PORT
        return self.kind == "unreachable" and self.code == port

    def add(self, message: IcmpMessage, origin_ttl: int | None) -> None:
        self.count += 1
        self.last_time = message.time
        if len(self.frames) < MAX_FRAMES_KEPT:
            self.frames.append(message.frame)
        quoted = message.quoted
        if quoted is not None:
            if quoted.sport is not None and len(self.sports) < MAX_FRAMES_KEPT:
                self.sports.add(quoted.sport)
            if quoted.ttl is not None and (self.quoted_ttl is None or quoted.ttl < self.quoted_ttl):
                self.quoted_ttl = quoted.ttl
            if quoted.icmp_type is not None:
                self.quoted_icmp_type = quoted.icmp_type
        if origin_ttl is not None:
            self.origin_ttl = max(self.origin_ttl, origin_ttl)
        if message.mtu is not None and len(self.mtus) < MAX_FRAMES_KEPT:
            self.mtus.add(message.mtu)
        if message.gateway and len(self.gateways) < MAX_FRAMES_KEPT:
            self.gateways.add(message.gateway)
        if message.pointer is not None:
            self.pointer = message.pointer
        self.sender_mac = message.src_mac or self.sender_mac


@dataclass(slots=True)
class ServiceAttempts:
    """Every attempt by one client to reach one service (proto, server, port) and what came back."""

    cid: int
    proto: str
    src: str
    dst: str
    dport: int
    attempts: int = 0
    replies: int = 0
    refused: int = 0  # TCP RST answering a SYN
    request_frames: list[int] = field(default_factory=list)
    reply_frames: list[int] = field(default_factory=list)
    first_time: float | None = None
    last_time: float = 0.0  # the latest attempt
    first_reply_time: float | None = None
    rtt_total: float = 0.0  # echo only: round trips of matched request/reply pairs
    rtt_count: int = 0

    def request(self, frame: int | None, time: float) -> None:
        self.attempts += 1
        if frame is not None and len(self.request_frames) < MAX_FRAMES_KEPT:
            self.request_frames.append(frame)
        if self.first_time is None:
            self.first_time = time
        self.last_time = max(self.last_time, time)

    def reply(self, frame: int | None, time: float, count: int = 1) -> None:
        self.replies += count
        if frame is not None and len(self.reply_frames) < MAX_FRAMES_KEPT:
            self.reply_frames.append(frame)
        if self.first_reply_time is None or time < self.first_reply_time:
            self.first_reply_time = time


@dataclass(slots=True)
class Query:
    """Timestamp or address mask requests from one station, and the replies it got."""

    kind: str
    src: str
    requests: int = 0
    replies: int = 0
    frames: list[int] = field(default_factory=list)
    targets: set[str] = field(default_factory=set)
    masks: dict[str, str] = field(default_factory=dict)  # responder -> mask it replied


@dataclass(slots=True)
class UnknownIcmp:
    family: int
    type: int
    code: int
    src: str
    dst: str
    count: int = 0
    frames: list[int] = field(default_factory=list)


@dataclass(slots=True)
class LoopSighting:
    """One datagram that passed the capture point more than once, each time with less TTL."""

    src: str
    dst: str
    proto: str
    ttls: list[int]
    frames: list[int]


@dataclass
class Observations:
    errors: dict[tuple, ErrorGroup] = field(default_factory=dict)
    services: dict[ServiceKey, ServiceAttempts] = field(default_factory=dict)
    arp: ArpObservations = field(default_factory=ArpObservations)
    ndp: NdpObservations = field(default_factory=NdpObservations)
    links: LinkUse = field(default_factory=LinkUse)  # which MAC carries traffic across subnets
    queries: dict[tuple[str, str], Query] = field(default_factory=dict)
    unknown: dict[tuple[int, int, int, str, str], UnknownIcmp] = field(default_factory=dict)
    loops: dict[DatagramKey, LoopSighting] = field(default_factory=dict)
    # Recently seen datagrams: TTL and frame, to spot a datagram coming round again.
    recent: OrderedDict[DatagramKey, tuple[int, int]] = field(default_factory=OrderedDict)
    pending_echo: OrderedDict[tuple[str, str, int, int], float] = field(default_factory=OrderedDict)
    stalls: list[TcpStall] = field(default_factory=list)  # TCP data that stopped getting through
    untracked_conversations: int = 0  # messages past MAX_CONVERSATIONS or MAX_REPORTED, counted
    end_time: float = 0.0  # the last packet's time, as far as netwhy saw

    def answering_hosts(self) -> dict[str, set[str]]:
        """Hosts that answered someone, with the clients they answered."""
        answered: dict[str, set[str]] = {}
        for service in self.services.values():
            if service.replies:
                answered.setdefault(service.dst, set()).add(service.src)
        return answered

    def room(self, table: Sized) -> bool:
        """Whether a reported table can take one more entry; if not, the message is counted."""
        if len(table) < MAX_REPORTED:
            return True
        self.untracked_conversations += 1
        return False

    def service(self, key: ServiceKey) -> ServiceAttempts | None:
        found = self.services.get(key)
        if found is None:
            if len(self.services) >= MAX_CONVERSATIONS:
                self.untracked_conversations += 1
                return None
            found = self.services[key] = ServiceAttempts(len(self.services), *key)
        return found


def observe(facts: Iterable[Fact], arp_window_s: float = 1.0) -> Observations:
    seen = Observations(arp=ArpObservations(window_s=arp_window_s))
    udp_first: dict[tuple[str, int, str, int], UdpFirst] = {}
    group_askers: set[tuple[str, int]] = set()  # (host, port) that sent to a group address
    for fact in facts:
        if isinstance(fact, UdpConversation):
            seen.end_time = max(seen.end_time, fact.start + fact.duration)
        else:
            seen.end_time = max(seen.end_time, fact.time)
        if isinstance(fact, IcmpMessage | TcpControl | UdpFirst):
            if ":" in fact.src:  # IPv6: which MAC it went through, for Neighbor Discovery
                seen.ndp.traffic(fact.frame, fact.time, fact.src_mac, fact.dst_mac, fact.src,
                                 fact.dst)
            else:
                seen.links.add(fact.frame, fact.time, fact.src_mac, fact.dst_mac, fact.src,
                               fact.dst)
        if isinstance(fact, IcmpMessage):
            _observe_icmp(seen, fact)
        elif isinstance(fact, TcpControl):
            _observe_tcp(seen, fact)
        elif isinstance(fact, UdpFirst):
            if len(udp_first) < MAX_CONVERSATIONS:
                udp_first[(fact.src, fact.sport, fact.dst, fact.dport)] = fact
            if is_multicast_or_broadcast(fact.dst) and len(group_askers) < MAX_CONVERSATIONS:
                group_askers.add((fact.src, fact.sport))
        elif isinstance(fact, UdpConversation):
            _observe_udp(seen, fact, udp_first, group_askers)
        elif isinstance(fact, ArpMessage):
            seen.arp.add(fact)
        elif isinstance(fact, NdpMessage):
            seen.ndp.add(fact)
        elif isinstance(fact, TcpStall) and seen.room(seen.stalls):
            seen.stalls.append(fact)
    return seen


def _remember(seen: Observations, key: DatagramKey, ttl: int | None, frame: int) -> None:
    """Note a datagram's TTL; if it was seen before with more TTL, it came round a loop."""
    if ttl is None or key[3] == 0:
        return  # IP ID 0 (DF set, RFC 6864) is shared by unrelated datagrams: it names none
    before = seen.recent.get(key)
    if before is not None and ttl < before[0]:
        sighting = seen.loops.get(key)
        if sighting is None:
            if not seen.room(seen.loops):
                return
            proto = PROTOCOL_NAMES.get(key[2], str(key[2]))
            sighting = LoopSighting(key[0], key[1], proto, [before[0]], [before[1]])
            seen.loops[key] = sighting
        if len(sighting.frames) < MAX_FRAMES_KEPT:
            sighting.ttls.append(ttl)
            sighting.frames.append(frame)
        return
    if before is None:
        seen.recent[key] = (ttl, frame)
        if len(seen.recent) > MAX_CONVERSATIONS:
            seen.recent.popitem(last=False)


def _observe_icmp(seen: Observations, message: IcmpMessage) -> None:
    numbers = FAMILIES[message.family]
    quoted = message.quoted
    if message.type not in numbers.handled:
        if message.family == 4 or message.type not in icmp6.MULTICAST_LISTENER:
            _observe_unknown(seen, message)
    elif numbers is ICMP4 and (message.type in QUERIES or message.type in REPLY_TO_QUERY):
        _observe_query(seen, message)
    kind = numbers.error_kinds.get(message.type)
    if kind is not None and quoted is not None:
        proto = PROTOCOL_NAMES.get(quoted.proto, str(quoted.proto))
        dport = quoted.dport if quoted.dport is not None else -1
        key = (message.family, message.type, message.code, message.src, quoted.src, quoted.dst,
               proto, dport)
        group = seen.errors.get(key)
        if group is None:
            if not seen.room(seen.errors):
                return
            group = seen.errors[key] = ErrorGroup(
                gid=len(seen.errors), type=message.type, code=message.code, sender=message.src,
                receiver=message.dst, proto=proto, q_src=quoted.src, q_dst=quoted.dst,
                q_dport=dport, first_time=message.time, df=quoted.df, family=message.family,
            )
        origin = None
        if quoted.ip_id:  # 0 names no datagram (see _remember)
            origin = seen.recent.get((quoted.src, quoted.dst, quoted.proto, quoted.ip_id))
        elif quoted.icmp_seq is not None:  # an ICMPv6 echo request, named as _datagram_id does
            datagram = (quoted.icmp_ident or 0) << 16 | quoted.icmp_seq
            origin = seen.recent.get((quoted.src, quoted.dst, quoted.proto, datagram))
        group.add(message, origin[0] if origin else None)
    elif message.type == numbers.echo:  # an attempt to reach the host
        key = (message.src, message.dst, numbers.protocol, _datagram_id(message))
        _remember(seen, key, message.ttl, message.frame)
        if key in seen.loops:
            return  # the same request coming round again is not a new attempt
        service = seen.service((numbers.proto, message.src, message.dst, -1))
        if service is not None:
            service.request(message.frame, message.time)
            if message.ident is not None and message.seq is not None:
                seen.pending_echo[(message.src, message.dst, message.ident, message.seq)] = (
                    message.time)
                if len(seen.pending_echo) > MAX_CONVERSATIONS:
                    seen.pending_echo.popitem(last=False)
    elif message.type == numbers.echo_reply:
        service = seen.service((numbers.proto, message.dst, message.src, -1))
        if service is not None:
            service.reply(message.frame, message.time)
            sent = seen.pending_echo.pop(
                (message.dst, message.src, message.ident, message.seq), None)
            if sent is not None:
                service.rtt_total += message.time - sent
                service.rtt_count += 1


def _datagram_id(message: IcmpMessage) -> int:
    """What tells one echo request from the next on the wire: its IPv4 header's id, or, in
    IPv6 (which has none), its identifier and sequence number."""
    if message.family == 4:
        return message.ip_id or 0
    return ((message.ident or 0) << 16 | (message.seq or 0)) or 0


def _observe_query(seen: Observations, message: IcmpMessage) -> None:
    if message.type in QUERIES:
        kind, requester = QUERIES[message.type][0], message.src
    else:
        kind, requester = REPLY_TO_QUERY[message.type][0], message.dst
    key = (kind, requester)
    query = seen.queries.get(key)
    if query is None:
        if not seen.room(seen.queries):
            return
        query = seen.queries[key] = Query(kind, requester)
    if len(query.frames) < MAX_FRAMES_KEPT:
        query.frames.append(message.frame)
    if message.type in QUERIES:
        query.requests += 1
        if len(query.targets) < MAX_FRAMES_KEPT:
            query.targets.add(message.dst)
    else:
        query.replies += 1
        if message.address_mask and len(query.masks) < MAX_FRAMES_KEPT:
            query.masks[message.src] = message.address_mask


def _observe_unknown(seen: Observations, message: IcmpMessage) -> None:
    key = (message.family, message.type, message.code, message.src, message.dst)
    found = seen.unknown.get(key)
    if found is None:
        if not seen.room(seen.unknown):
            return
        found = seen.unknown[key] = UnknownIcmp(*key)
    found.count += 1
    if len(found.frames) < MAX_FRAMES_KEPT:
        found.frames.append(message.frame)


def _observe_tcp(seen: Observations, segment: TcpControl) -> None:
    if segment.ip_id is not None:
        key = (segment.src, segment.dst, 6, segment.ip_id)
        _remember(seen, key, segment.ttl, segment.frame)
        if key in seen.loops:
            return  # a looping SYN is one attempt, however often it passes
    if segment.syn and not segment.ack:
        service = seen.service(("tcp", segment.src, segment.dst, segment.dport))
        if service is not None:
            service.request(segment.frame, segment.time)
        return
    # SYN-ACK or RST travel from the server back to the client.
    service = seen.services.get(("tcp", segment.dst, segment.src, segment.sport))
    if service is None:
        return
    if segment.syn and segment.ack:
        service.reply(segment.frame, segment.time)
    elif segment.rst:
        service.refused += 1
        if len(service.reply_frames) < MAX_FRAMES_KEPT:
            service.reply_frames.append(segment.frame)


def _observe_udp(
    seen: Observations,
    conversation: UdpConversation,
    udp_first: dict[tuple[str, int, str, int], UdpFirst],
    group_askers: set[tuple[str, int]],
) -> None:
    client, sport = conversation.a, conversation.a_port
    server, dport = conversation.b, conversation.b_port
    first = udp_first.get((client, sport, server, dport))
    requests, replies = conversation.frames_a_to_b, conversation.frames_b_to_a
    if first is None:  # tshark listed the conversation the other way round
        first = udp_first.get((server, dport, client, sport))
        if first is not None:
            client, sport, server, dport = server, dport, client, sport
            requests, replies = replies, requests
    if (server, dport) in group_askers:
        # Unicast answers to a query sent to a multicast or broadcast address (SSDP, mDNS,
        # NetBIOS): the "server" asked first, so this is no request of the "client".
        return
    service = seen.service(("udp", client, server, dport))
    if service is None:
        return
    service.attempts += requests - 1
    service.request(first.frame if first else None, conversation.start)
    if replies:
        # The tap gives counts, not frames: the reply frames stay unknown.
        service.reply(None, conversation.start, replies)
