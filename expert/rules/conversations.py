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
TERMS = (  # evidence terms, weighed in kb/evidence.yaml
    "request-repeated", "not-retried", "one-sided-capture", "other-port-answered",
    "peer-connected-back",
)



def define(kb: KnowledgeBase, api: RuleApi) -> None:
    finding, evidence = api.finding, api.evidence
    reply_window_us = kb.threshold("conversation.silent", "reply_window_s") * 1_000_000
    retry_due_us = kb.threshold("conversation.silent", "retry_expected_s") * 1_000_000
    one_way_ports = set(kb.threshold("conversation.silent", "one_way_udp_ports"))
    parallel_us = kb.threshold("tcp.refused", "parallel_window_s") * 1_000_000
    alternatives = [set(ports) for ports in kb.threshold("tcp.refused", "alternative_ports")]

    @when_all((m.kind == "attempt") & (m.refused > 0))
    def refused(c):
        a = c.m
        fid = finding(
            c, REFUSED, a.key, "tcp.refused", src=a.src, dst=a.dst, reporter=a.dst,
            proto=a.proto, dport=a.dport, frames=a.request_frames + a.reply_frames,
            count=a.refused, details={"ports": f"tcp/{a.dport}"},
            features={"retried": a.attempts > 1, "dst_answers_client": a.dst_answers_client},
        )
        if a.attempts > 1:
            evidence(c, REFUSED, fid, "request-repeated")

    def refused_id(attempt) -> str:  # the refusal's finding, kept out of the engine
        return api.finding_id("tcp.refused", attempt.key, REFUSED)

    @when_all(
        c.attempt << (m.kind == "attempt") & (m.refused > 0),
        c.other << (m.kind == "service") & (m.proto == "tcp") & (m.src == c.attempt.src)
        & (m.dst == c.attempt.dst) & (m.dport != c.attempt.dport) & (m.replies > 0),
    )
    def other_port_answered(c):
        # A client that tries a service's two ports at once (SMB on 445 and 139, mail on 465
        # and 587) and uses the one that answers has not failed. Any other port answering
        # proves nothing about this one (a firewall may reset just this port).
        ports = {c.other.dport, c.attempt.dport}
        together = abs(c.other.first_time_us - c.attempt.first_time_us) <= parallel_us
        if together and any(ports <= group for group in alternatives):
            evidence(c, REFUSED, refused_id(c.attempt), "other-port-answered", cid=c.other.cid)

    @when_all(
        c.attempt << (m.kind == "attempt") & (m.refused > 0),
        c.back << (m.kind == "service") & (m.proto == "tcp") & (m.src == c.attempt.dst)
        & (m.dst == c.attempt.src) & (m.dport == c.attempt.dport) & (m.replies > 0),
    )
    def peer_connected_back(c):
        # Peers that each try to open the session (BGP, LDP): one side refuses until it is
        # configured, then connects the other way.
        evidence(c, REFUSED, refused_id(c.attempt), "peer-connected-back", cid=c.back.cid)

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
        fid = finding(
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
        if a.attempts > 1:
            evidence(c, SILENT, fid, "request-repeated")
        elif a.end_time_us - a.first_time_us >= retry_due_us:
            evidence(c, SILENT, fid, "not-retried")
        if not a.client_receives:
            evidence(c, SILENT, fid, "one-sided-capture")
