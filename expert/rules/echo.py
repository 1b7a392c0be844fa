"""Echo request and reply (ping): reachable with its round trip, or requests nobody answered."""

from __future__ import annotations

from durable.lang import c, m, none, when_all
from netwhy.expert.facts import evidence, finding
from netwhy.expert.registry import register
from netwhy.kb import load_knowledge_base

OK = register("echo.answered", "Echo requests answered: the host is reachable, with its RTT",
              ("icmp.echo.ok",))
NO_REPLY = register(
    "echo.unanswered",
    "Echo requests that drew neither a reply nor an ICMP error",
    ("icmp.echo.no-reply",),
)
NEIGHBOURS = register(
    "echo.unanswered.neighbourhood",
    "What else the capture shows about an unanswered host: its ARP, other hosts answering",
    ("icmp.echo.no-reply",),
)


def define() -> None:
    window_us = load_knowledge_base().threshold("icmp.echo.no-reply", "reply_window_s") * 1e6

    @when_all((m.kind == "echo") & (m.replies > 0))
    def answered(c):
        rtt_ms = round(c.m.rtt_us / 1000, 3) if c.m.rtt_us >= 0 else None
        finding(
            c, OK, c.m.key, "icmp.echo.ok", src=c.m.src, dst=c.m.dst, reporter=c.m.dst,
            proto="icmp", frames=(c.m.request_frames[:2] + c.m.reply_frames[:2]),
            count=c.m.replies, details={"rtt_ms": rtt_ms, "requests": c.m.requests},
            features={"rtt_ms": rtt_ms if rtt_ms is not None else -1, "requests": c.m.requests},
        )

    @when_all(
        c.echo << (m.kind == "echo") & (m.requests > m.replies),
        none((m.kind == "error") & (m.q_proto == "icmp") & (m.q_src == c.echo.src)
             & (m.q_dst == c.echo.dst)),
    )
    def unanswered(c):
        lost = c.echo.requests - c.echo.replies
        if c.echo.replies and lost < 2:
            return  # one lost ping among answered ones is ordinary loss, not a finding
        if not c.echo.replies and c.echo.end_time_us - c.echo.first_time_us < window_us:
            return  # the capture ended before even the first reply was due
        finding(
            c, NO_REPLY, c.echo.key, "icmp.echo.no-reply", src=c.echo.src, dst=c.echo.dst,
            reporter=c.echo.src, proto="icmp", frames=c.echo.request_frames, count=lost,
            details={"requests": c.echo.requests, "replies": c.echo.replies},
            features={"requests": c.echo.requests, "partial_replies": c.echo.replies > 0},
        )

    @when_all(
        c.finding << (m.kind == "finding") & (m.condition == "icmp.echo.no-reply"),
        c.arp << (m.kind == "arp_query") & (m.target == c.finding.dst),
    )
    def target_arp(c):
        if c.arp.replies:
            evidence(c, NEIGHBOURS, c.finding.fid, "target-arp-answered",
                     {"arp_answered": True}, frames=c.arp.reply_frames[:2])
        else:
            evidence(c, NEIGHBOURS, c.finding.fid, "target-arp-unanswered",
                     {"arp_unanswered": True}, frames=c.arp.request_frames)

    @when_all(
        c.finding << (m.kind == "finding") & (m.condition == "icmp.echo.no-reply"),
        c.echo << (m.kind == "echo") & (m.key == c.finding.origin) & (m.others_answered > 0),
    )
    def others_answer(c):
        evidence(c, NEIGHBOURS, c.finding.fid, "other-hosts-answer", {"other_hosts_answer": True})
