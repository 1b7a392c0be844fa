"""Condensing the fact stream into what the rules reason about.

The rules engine is fed conclusions about conversations and groups of ICMP errors, never raw
packets: a scan that draws ten thousand port unreachables is one error group with a count, and a
million TCP connections are counters, not a million engine facts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from netwhy.dissect.facts import (
    ArpMessage,
    Fact,
    IcmpMessage,
    TcpControl,
    UdpConversation,
    UdpFirst,
)

PROTOCOL_NAMES = {1: "icmp", 6: "tcp", 17: "udp"}
MAX_FRAMES_KEPT = 32  # evidence frames kept per group; the count keeps the rest
MAX_CONVERSATIONS = 200_000  # state cap: past it, new conversations are counted, not tracked

ServiceKey = tuple[str, str, str, int]  # proto, client, server, server port (-1 for ICMP echo)


@dataclass
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
    count: int = 0
    frames: list[int] = field(default_factory=list)
    sports: set[int] = field(default_factory=set)
    mtus: set[int] = field(default_factory=set)
    gateways: set[str] = field(default_factory=set)
    df: bool | None = None
    quoted_ttl: int | None = None

    def add(self, message: IcmpMessage) -> None:
        self.count += 1
        if len(self.frames) < MAX_FRAMES_KEPT:
            self.frames.append(message.frame)
        quoted = message.quoted
        if quoted is not None and quoted.sport is not None and len(self.sports) < MAX_FRAMES_KEPT:
            self.sports.add(quoted.sport)
        if message.mtu is not None:
            self.mtus.add(message.mtu)
        if message.gateway:
            self.gateways.add(message.gateway)


@dataclass
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
    first_reply_time: float | None = None

    def request(self, frame: int | None, time: float) -> None:
        self.attempts += 1
        if frame is not None and len(self.request_frames) < MAX_FRAMES_KEPT:
            self.request_frames.append(frame)
        if self.first_time is None:
            self.first_time = time

    def reply(self, frame: int | None, time: float, count: int = 1) -> None:
        self.replies += count
        if frame is not None and len(self.reply_frames) < MAX_FRAMES_KEPT:
            self.reply_frames.append(frame)
        if self.first_reply_time is None or time < self.first_reply_time:
            self.first_reply_time = time


@dataclass
class Observations:
    errors: dict[tuple, ErrorGroup] = field(default_factory=dict)
    services: dict[ServiceKey, ServiceAttempts] = field(default_factory=dict)
    arp: list[ArpMessage] = field(default_factory=list)
    untracked_conversations: int = 0  # conversations past MAX_CONVERSATIONS, counted only

    def service(self, key: ServiceKey) -> ServiceAttempts | None:
        found = self.services.get(key)
        if found is None:
            if len(self.services) >= MAX_CONVERSATIONS:
                self.untracked_conversations += 1
                return None
            found = self.services[key] = ServiceAttempts(len(self.services), *key)
        return found


def observe(facts: Iterable[Fact]) -> Observations:
    seen = Observations()
    udp_first: dict[tuple[str, int, str, int], UdpFirst] = {}
    for fact in facts:
        if isinstance(fact, IcmpMessage):
            _observe_icmp(seen, fact)
        elif isinstance(fact, TcpControl):
            _observe_tcp(seen, fact)
        elif isinstance(fact, UdpFirst):
            if len(udp_first) < MAX_CONVERSATIONS:
                udp_first[(fact.src, fact.sport, fact.dst, fact.dport)] = fact
        elif isinstance(fact, UdpConversation):
            _observe_udp(seen, fact, udp_first)
        elif isinstance(fact, ArpMessage) and len(seen.arp) < MAX_CONVERSATIONS:
            seen.arp.append(fact)
    return seen


def _observe_icmp(seen: Observations, message: IcmpMessage) -> None:
    quoted = message.quoted
    if message.is_error and quoted is not None:
        proto = PROTOCOL_NAMES.get(quoted.proto, str(quoted.proto))
        dport = quoted.dport if quoted.dport is not None else -1
        key = (message.type, message.code, message.src, quoted.src, quoted.dst, proto, dport)
        group = seen.errors.get(key)
        if group is None:
            group = seen.errors[key] = ErrorGroup(
                gid=len(seen.errors), type=message.type, code=message.code, sender=message.src,
                receiver=message.dst, proto=proto, q_src=quoted.src, q_dst=quoted.dst,
                q_dport=dport, first_time=message.time, df=quoted.df, quoted_ttl=quoted.ttl,
            )
        group.add(message)
    elif message.type == 8:  # echo request: an attempt to reach the host
        service = seen.service(("icmp", message.src, message.dst, -1))
        if service is not None:
            service.request(message.frame, message.time)
    elif message.type == 0:  # echo reply
        service = seen.service(("icmp", message.dst, message.src, -1))
        if service is not None:
            service.reply(message.frame, message.time)


def _observe_tcp(seen: Observations, segment: TcpControl) -> None:
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
    service = seen.service(("udp", client, server, dport))
    if service is None:
        return
    service.attempts += requests - 1
    service.request(first.frame if first else None, conversation.start)
    if replies:
        # The tap gives counts, not frames: the reply frames stay unknown.
        service.reply(None, conversation.start, replies)
