"""Echo request and reply (ping, over IPv4 or IPv6): reachable with its round trip, or requests
nobody answered."""

from __future__ import annotations

from durable.lang import c, m, none, when_all

from netwhy.expert.registry import Rule
from netwhy.expert.rule_api import RuleApi
from netwhy.kb import KnowledgeBase

RULES = (
    Rule("echo.answered",
         "Echo requests answered: the host is reachable, with its RTT",
         ("icmp.echo.ok", "icmp6.echo.ok")),
    Rule("echo.unanswered",
         "Echo requests that drew neither a reply nor an ICMP error",
         ("icmp.echo.no-reply", "icmp6.echo.no-reply")),
    Rule("echo.unanswered.neighbourhood",
         "What else the capture shows about an unanswered host: its ARP, other hosts answering",
         ("icmp.echo.no-reply", "icmp6.echo.no-reply")),
)
OK, NO_REPLY, NEIGHBOURS = (rule.id for rule in RULES)
# What these rules attach to a finding for the knowledge base's `when` clauses.
FEATURES = {
    "rtt_ms": ("number", "average echo round-trip time"),
    "partial_replies": ("bool", "some echo requests were answered, others were not"),
    "other_hosts_answer": ("bool", "the same client got answers from other hosts"),
}
# Features they attach too, declared by the module that owns them.
SHARED_FEATURES = ("requests", "arp_answered", "arp_unanswered")
TERMS = (  # evidence terms, weighed in kb/evidence.yaml
    "target-arp-answered", "target-arp-unanswered", "other-hosts-answer",
)


# Each family's conditions: (answered, unanswered), by the echo's protocol.
CONDITIONS = {"icmp": ("icmp.echo.ok", "icmp.echo.no-reply"),
              "icmpv6": ("icmp6.echo.ok", "icmp6.echo.no-reply")}


def define(kb: KnowledgeBase, api: RuleApi) -> None:
    finding, evidence = api.finding, api.evidence
    window_us = {"icmp": kb.threshold("icmp.echo.no-reply", "reply_window_s") * 1e6,
                 "icmpv6": kb.threshold("icmp6.echo.no-reply", "reply_window_s") * 1e6}

    @when_all((m.kind == "echo") & (m.replies > 0))
    def answered(c):
        echo = c.m  # once: each c.m is a fresh wrapper around the fact
        rtt_ms = round(echo.rtt_us / 1000, 3) if echo.rtt_us >= 0 else None
        finding(
            c, OK, echo.key, CONDITIONS[echo.proto][0], src=echo.src, dst=echo.dst,
            reporter=echo.dst, proto=echo.proto,
            frames=(echo.request_frames[:2] + echo.reply_frames[:2]),
            count=echo.replies, details={"rtt_ms": rtt_ms, "requests": echo.requests},
            features={"rtt_ms": rtt_ms if rtt_ms is not None else -1, "requests": echo.requests},
        )

    @when_all(
        c.echo << (m.kind == "echo") & (m.requests > m.replies),
        none((m.kind == "error") & (m.q_proto == c.echo.proto) & (m.q_src == c.echo.src)
             & (m.q_dst == c.echo.dst)),
    )
    def unanswered(c):
        echo = c.echo
        lost = echo.requests - echo.replies
        if echo.replies and lost < 2:
            return  # one lost ping among answered ones is ordinary loss, not a finding
        if not echo.replies and echo.end_time_us - echo.first_time_us < window_us[echo.proto]:
            return  # the capture ended before even the first reply was due
        finding(
            c, NO_REPLY, echo.key, CONDITIONS[echo.proto][1], src=echo.src, dst=echo.dst,
            reporter=echo.src, proto=echo.proto, frames=echo.request_frames, count=lost,
            details={"requests": echo.requests, "replies": echo.replies},
            features={"requests": echo.requests, "partial_replies": echo.replies > 0},
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
        c.finding << (m.kind == "finding") & ((m.condition == "icmp.echo.no-reply")
                                              | (m.condition == "icmp6.echo.no-reply")),
        c.echo << (m.kind == "echo") & (m.key == c.finding.origin) & (m.others_answered > 0),
    )
    def others_answer(c):
        evidence(c, NEIGHBOURS, c.finding.fid, "other-hosts-answer", {"other_hosts_answer": True})
