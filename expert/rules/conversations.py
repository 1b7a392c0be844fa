"""Conversation attempts that failed without an ICMP error: refused by a TCP reset, or met
with silence."""

from __future__ import annotations

from durable.lang import c, m, none, when_all

from netwhy.expert.registry import Rule
from netwhy.expert.rule_api import RuleApi
from netwhy.kb import KnowledgeBase

RULES = (
    Rule("tcp.refused",
         "A TCP SYN answered by a reset: connection refused",
         ("tcp.refused",)),
    Rule("conversation.silent",
         "Requests that drew no reply, no reset and no ICMP error, judged by what else is seen",
         ("conversation.silent",)),
)
REFUSED, SILENT = (rule.id for rule in RULES)
# What these rules attach to a finding for the knowledge base's `when` clauses.
FEATURES = {
    "retried": ("bool", "the client sent its request more than once"),
    "dst_answers_client": ("bool",
                           "the destination answered this client otherwise (ping, other ports)"),
    "dst_answers_others": ("bool", "the destination answered other clients"),
    "client_gets_replies": ("bool", "the capture shows replies to this client from anyone"),
}
# Features they attach too, declared by the module that owns them.
SHARED_FEATURES = ("arp_answered", "arp_unanswered")


def define(kb: KnowledgeBase, api: RuleApi) -> None:
    finding = api.finding
    reply_window_us = kb.threshold("conversation.silent", "reply_window_s") * 1_000_000
    one_way_ports = set(kb.threshold("conversation.silent", "one_way_udp_ports"))

    @when_all((m.kind == "attempt") & (m.refused > 0))
    def refused(c):
        a = c.m
        finding(
            c, REFUSED, a.key, "tcp.refused", src=a.src, dst=a.dst, reporter=a.dst,
            proto=a.proto, dport=a.dport, frames=a.request_frames + a.reply_frames,
            count=a.refused, details={"ports": f"tcp/{a.dport}"},
            features={"retried": a.attempts > 1, "dst_answers_client": a.dst_answers_client},
        )

    @when_all(
        c.attempt << (m.kind == "attempt") & (m.refused == 0),
        # An ICMP error already explains this attempt.
        none((m.kind == "error") & (m.q_proto == c.attempt.proto) & (m.q_src == c.attempt.src)
             & (m.q_dst == c.attempt.dst) & (m.q_dport == c.attempt.dport)),
    )
    def silent(c):
        a = c.attempt
        if a.multicast or (a.proto == "udp" and a.dport in one_way_ports):
            return  # nobody is expected to answer
        if a.end_time_us - a.first_time_us < reply_window_us:
            return  # the capture ended before a reply was due
        finding(
            c, SILENT, a.key, "conversation.silent", src=a.src, dst=a.dst, reporter=a.src,
            proto=a.proto, dport=a.dport, frames=a.request_frames, count=a.attempts,
            details={"ports": f"{a.proto}/{a.dport}"},
            features={
                "retried": a.attempts > 1, "dst_answers_client": a.dst_answers_client,
                "dst_answers_others": a.dst_answers_others,
                "client_gets_replies": a.client_gets_replies,
                "arp_answered": a.arp_answered, "arp_unanswered": a.arp_unanswered,
            },
        )
