"""Every ICMP error (types 3, 4, 5, 11, 12) and ICMPv6 error (types 1-4): classify it by its
knowledge-base condition, tie it to the conversation it quotes, and judge its sender."""

from __future__ import annotations

from durable.lang import c, m, none, when_all

from netwhy.expert.addresses import is_multicast_or_broadcast
from netwhy.expert.registry import ANY_ICMP_CONDITION, Rule
from netwhy.expert.rule_api import RuleApi
from netwhy.kb import KnowledgeBase

RULES = (
    Rule("icmp-error.classify",
         "An ICMP error whose type and code a knowledge-base entry covers becomes a finding",
         (ANY_ICMP_CONDITION,)),
    Rule("icmp-error.tied-to-conversation",
         "The error quotes a conversation seen in the capture: tie them, count replies before it",
         (ANY_ICMP_CONDITION,)),
    Rule("icmp-error.quote-unmatched",
         "The error quotes a datagram that matches no attempt in the capture",
         (ANY_ICMP_CONDITION,)),
    Rule("icmp-error.quotes-a-reply",
         "The error quotes an answer to a conversation its own sender started: the asker had gone",
         (ANY_ICMP_CONDITION,)),
    Rule("icmp-error.sender-role",
         "Who sent the error (the destination itself or a device on the path) against who should",
         (ANY_ICMP_CONDITION,)),
    Rule("icmp-error.repeated",
         "The same error came back more than once for the same client and service",
         (ANY_ICMP_CONDITION,)),
)
CLASSIFY, TIED, UNTIED, LATE_REPLY, SENDER, REPEATED = (rule.id for rule in RULES)
# What these rules attach to a finding for the knowledge base's `when` clauses.
FEATURES = {
    "proto": ("string", "protocol of the quoted or failed datagram: tcp, udp, icmp, icmpv6, "
              "or a number"),
    "dport": ("int", "its destination port (-1 when it has none)"),
    "count": ("int", "how many messages of this kind, for this subject"),
    "code": ("int", "the ICMP or ICMPv6 code"),
    "reply_shaped": ("bool", "the quoted datagram runs from a port that services answer from "
                     "(DNS, NTP, SNMP, ...) to an ephemeral one"),
    "replies_before": ("int", "replies the destination sent on that conversation before the error"),
    "quotes_reply": ("bool", "the error quotes an answer in a conversation its own sender opened"),
    "answer_unasked": ("bool", "the error quotes an answer-shaped datagram whose request the "
                       "capture does not hold"),
    "sender_is_destination": ("bool",
                              "the ICMP came from the quoted datagram's destination itself"),
}
TERMS = (  # evidence terms, weighed in kb/evidence.yaml
    "about-multicast", "flow-seen", "no-reply", "replies-before", "quote-unmatched",
    "quotes-reply", "sender-is-destination", "sender-is-router", "sender-unexpected", "repeated",
    "answer-unasked",
)

# A finding made from an ICMP error and that error, joined.
_ERROR_FINDING = (
    c.finding << (m.kind == "finding"),
    c.error << (m.kind == "error") & (m.key == c.finding.origin),
)


def define(kb: KnowledgeBase, api: RuleApi) -> None:
    finding, evidence = api.finding, api.evidence
    answer_ports = frozenset(kb.threshold("icmp.unreachable.port", "answer_ports"))

    def reply_shaped(error) -> bool:
        """A datagram from a service port to an ephemeral one has the shape of an answer."""
        return error.q_sport in answer_ports and error.q_dport >= 1024 \
            and error.q_dport not in answer_ports

    @when_all(m.kind == "error")
    def classify(c):
        error = c.m  # once: each c.m is a fresh wrapper around the fact
        condition = kb.for_icmp(error.type, error.code, error.family)
        if condition is None:
            return  # an unassigned code: icmp.unknown-type's rule speaks for it
        fid = finding(
            c, CLASSIFY, error.key, condition.id, src=error.q_src, dst=error.q_dst,
            reporter=error.sender, frames=error.frames, proto=error.q_proto,
            sport=error.q_sport, dport=error.q_dport, count=error.count,
            details=_details(error),
            features={"proto": error.q_proto, "dport": error.q_dport, "count": error.count,
                      "code": error.code, "reply_shaped": reply_shaped(error)},
        )
        if is_multicast_or_broadcast(error.q_dst):
            evidence(c, CLASSIFY, fid, "about-multicast")

    @when_all(
        *_ERROR_FINDING,
        c.service << (m.kind == "service") & (m.proto == c.error.q_proto)
        & (m.src == c.error.q_src) & (m.dst == c.error.q_dst) & (m.dport == c.error.q_dport),
    )
    def tied(c):
        error, service, fid = c.error, c.service, c.finding.fid
        if error.error_kind == "redirect":
            return  # a redirect is advice about a working conversation, not its failure
        answered_before = 0 <= service.first_reply_time_us <= error.first_time_us
        replies_before = service.replies if answered_before else 0
        evidence(c, TIED, fid, "flow-seen", {"replies_before": replies_before},
                 cid=service.cid)
        if service.replies == 0:
            evidence(c, TIED, fid, "no-reply")
        elif replies_before:
            evidence(c, TIED, fid, "replies-before")

    @when_all(
        *_ERROR_FINDING,
        none((m.kind == "service") & (m.proto == c.error.q_proto) & (m.src == c.error.q_src)
             & (m.dst == c.error.q_dst) & (m.dport == c.error.q_dport)),
        none((m.kind == "service") & (m.proto == c.error.q_proto) & (m.src == c.error.q_dst)
             & (m.dst == c.error.q_src) & (m.dport == c.error.q_sport)),
    )
    def untied(c):
        if c.error.error_kind == "unreachable":  # others need no conversation to explain
            evidence(c, UNTIED, c.finding.fid, "quote-unmatched", {"replies_before": 0})

    @when_all(
        *_ERROR_FINDING,
        none((m.kind == "service") & (m.proto == c.error.q_proto) & (m.src == c.error.q_dst)
             & (m.dst == c.error.q_src) & (m.dport == c.error.q_sport)),
    )
    def answer_unasked(c):
        # Shaped like an answer, and the capture holds no request it answers: a late reply to
        # an asker that had gone, not a request to a missing service.
        if c.error.error_kind == "unreachable" and reply_shaped(c.error):
            evidence(c, LATE_REPLY, c.finding.fid, "answer-unasked", {"answer_unasked": True})

    @when_all(
        *_ERROR_FINDING,
        c.service << (m.kind == "service") & (m.proto == c.error.q_proto)
        & (m.src == c.error.q_dst) & (m.dst == c.error.q_src) & (m.dport == c.error.q_sport),
    )
    def quotes_a_reply(c):
        # The quoted datagram flows server -> client in a conversation the client opened: the
        # client's socket was gone when the answer arrived (it timed out, or it was restarted).
        evidence(c, LATE_REPLY, c.finding.fid, "quotes-reply", {"quotes_reply": True},
                 cid=c.service.cid)

    @when_all(*_ERROR_FINDING)
    def sender_role(c):
        found, error = c.finding, c.error
        expected = kb.conditions[found.condition].sender
        from_destination = error.sender == error.q_dst
        if expected == "either" or (expected == "host") == from_destination:
            term = "sender-is-destination" if from_destination else "sender-is-router"
        else:
            term = "sender-unexpected"
        evidence(c, SENDER, found.fid, term, {"sender_is_destination": from_destination})

    @when_all(
        c.finding << (m.kind == "finding"),
        c.error << (m.kind == "error") & (m.key == c.finding.origin) & (m.count > 1),
    )
    def repeated(c):
        evidence(c, REPEATED, c.finding.fid, "repeated")


def _details(error) -> dict:
    details = {}
    if error.mtu >= 0:
        details["mtu"] = error.mtu
    if error.gateway:
        details["gateway"] = error.gateway
    return details
