"""Fragmentation needed and DF set (ICMP 3/4) and Packet Too Big (ICMPv6 2): the next-hop MTU
and whether the sender can learn it."""

from __future__ import annotations

from durable.lang import c, m, when_all

from netwhy.expert.registry import Rule
from netwhy.expert.rule_api import RuleApi
from netwhy.kb import KnowledgeBase

RULES = (
    Rule("path-mtu.next-hop-mtu",
         "A fragmentation-needed error names the next-hop MTU (or 0 from a pre-RFC 1191 router)",
         ("icmp.unreachable.frag-needed",)),
    Rule("path-mtu.packet-too-big",
         "A Packet Too Big names the next hop's MTU; one below IPv6's 1280 bytes is bogus",
         ("icmp6.packet-too-big",)),
)
NEXT_HOP_MTU, TOO_BIG = (rule.id for rule in RULES)
# What these rules attach to a finding for the knowledge base's `when` clauses.
FEATURES = {
    "mtu": ("int", "next-hop MTU of a fragmentation-needed error (0: the router did not say)"),
    "df": ("bool", "the quoted datagram had Don't Fragment set"),
}
TERMS = (  # evidence terms, weighed in kb/evidence.yaml
    "mtu-below-ipv6-minimum",
)


def define(kb: KnowledgeBase, api: RuleApi) -> None:
    evidence = api.evidence
    @when_all(
        c.finding << (m.kind == "finding") & (m.condition == "icmp.unreachable.frag-needed"),
        c.error << (m.kind == "error") & (m.key == c.finding.origin),
    )
    def next_hop_mtu(c):
        evidence(c, NEXT_HOP_MTU, c.finding.fid, features={"mtu": c.error.mtu, "df": c.error.df})

    minimum_mtu = kb.threshold("icmp6.packet-too-big", "minimum_mtu")

    @when_all(
        c.finding << (m.kind == "finding") & (m.condition == "icmp6.packet-too-big"),
        c.error << (m.kind == "error") & (m.key == c.finding.origin),
    )
    def packet_too_big(c):
        # IPv6 links carry 1280 bytes at least (RFC 8200 section 5): a smaller MTU is made up.
        term = "mtu-below-ipv6-minimum" if 0 <= c.error.mtu < minimum_mtu else ""
        evidence(c, TOO_BIG, c.finding.fid, term, features={"mtu": c.error.mtu})
