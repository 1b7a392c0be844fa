"""Every ICMP error (types 3, 4, 5, 11, 12): classify it by its knowledge-base condition, tie it
to the conversation it quotes, and judge its sender."""

from __future__ import annotations

from durable.lang import c, m, none, when_all
from netwhy.expert.addresses import is_multicast_or_broadcast
from netwhy.expert.facts import evidence, finding
from netwhy.expert.registry import ANY_ICMP_CONDITION, register
from netwhy.kb import load_knowledge_base

CLASSIFY = register(
    "icmp-error.classify",
    "An ICMP error whose type and code a knowledge-base entry covers becomes a finding",
    (ANY_ICMP_CONDITION,),
)
TIED = register(
    "icmp-error.tied-to-conversation",
    "The error quotes a conversation seen in the capture: tie them, count replies before it",
    (ANY_ICMP_CONDITION,),
)
UNTIED = register(
    "icmp-error.quote-unmatched",
    "The error quotes a datagram that matches no attempt in the capture",
    (ANY_ICMP_CONDITION,),
)
LATE_REPLY = register(
    "icmp-error.quotes-a-reply",
    "The error quotes an answer to a conversation its own sender started: the asker had gone",
    (ANY_ICMP_CONDITION,),
)
SENDER = register(
    "icmp-error.sender-role",
    "Who sent the error (the destination itself or a device on the path) against who should",
    (ANY_ICMP_CONDITION,),
)
REPEATED = register(
    "icmp-error.repeated",
    "The same error came back more than once for the same client and service",
    (ANY_ICMP_CONDITION,),
)

# A finding made from an ICMP error and that error, joined.
_ERROR_FINDING = (
    c.finding << (m.kind == "finding"),
    c.error << (m.kind == "error") & (m.key == c.finding.origin),
)


def define() -> None:
    @when_all(m.kind == "error")
    def classify(c):
        condition = load_knowledge_base().for_icmp(c.m.type, c.m.code)
        if condition is None:
            return  # an unassigned code: icmp.unknown-type's rule speaks for it
        # A datagram from a well-known port to an ephemeral one has the shape of an answer.
        reply_shaped = 0 < c.m.q_sport < 1024 <= c.m.q_dport
        fid = finding(
            c, CLASSIFY, c.m.key, condition.id, src=c.m.q_src, dst=c.m.q_dst,
            reporter=c.m.sender, frames=c.m.frames, proto=c.m.q_proto, sport=c.m.q_sport,
            dport=c.m.q_dport, count=c.m.count, details=_details(c.m),
            features={"proto": c.m.q_proto, "dport": c.m.q_dport, "count": c.m.count,
                      "code": c.m.code, "reply_shaped": reply_shaped},
        )
        if is_multicast_or_broadcast(c.m.q_dst):
            evidence(c, CLASSIFY, fid, "about-multicast")

    @when_all(
        *_ERROR_FINDING,
        c.service << (m.kind == "service") & (m.proto == c.error.q_proto)
        & (m.src == c.error.q_src) & (m.dst == c.error.q_dst) & (m.dport == c.error.q_dport),
    )
    def tied(c):
        if c.error.type == 5:
            return  # a redirect is advice about a working conversation, not its failure
        answered_before = 0 <= c.service.first_reply_time_us <= c.error.first_time_us
        replies_before = c.service.replies if answered_before else 0
        evidence(c, TIED, c.finding.fid, "flow-seen", {"replies_before": replies_before},
                 cid=c.service.cid)
        if c.service.replies == 0:
            evidence(c, TIED, c.finding.fid, "no-reply")
        elif replies_before:
            evidence(c, TIED, c.finding.fid, "replies-before")

    @when_all(
        *_ERROR_FINDING,
        none((m.kind == "service") & (m.proto == c.error.q_proto) & (m.src == c.error.q_src)
             & (m.dst == c.error.q_dst) & (m.dport == c.error.q_dport)),
        none((m.kind == "service") & (m.proto == c.error.q_proto) & (m.src == c.error.q_dst)
             & (m.dst == c.error.q_src) & (m.dport == c.error.q_sport)),
    )
    def untied(c):
        if c.error.type == 3:  # other errors do not ask for a conversation to explain
            evidence(c, UNTIED, c.finding.fid, "quote-unmatched", {"replies_before": 0})

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
        expected = load_knowledge_base().conditions[c.finding.condition].sender
        from_destination = c.error.sender == c.error.q_dst
        if expected == "either" or (expected == "host") == from_destination:
            term = "sender-is-destination" if from_destination else "sender-is-router"
        else:
            term = "sender-unexpected"
        evidence(c, SENDER, c.finding.fid, term, {"sender_is_destination": from_destination})

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
