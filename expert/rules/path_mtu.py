"""Fragmentation needed and DF set (3/4): the next-hop MTU and whether the sender can learn it."""

from __future__ import annotations

from durable.lang import c, m, when_all

from netwhy.expert.registry import Rule
from netwhy.expert.rule_api import RuleApi
from netwhy.kb import KnowledgeBase

RULES = (
    Rule("path-mtu.next-hop-mtu",
         "A fragmentation-needed error names the next-hop MTU (or 0 from a pre-RFC 1191 router)",
         ("icmp.unreachable.frag-needed",)),
)
NEXT_HOP_MTU, = (rule.id for rule in RULES)
# What these rules attach to a finding for the knowledge base's `when` clauses.
FEATURES = {
    "mtu": ("int", "next-hop MTU of a fragmentation-needed error (0: the router did not say)"),
    "df": ("bool", "the quoted datagram had Don't Fragment set"),
}


def define(kb: KnowledgeBase, api: RuleApi) -> None:
    evidence = api.evidence
    @when_all(
        c.finding << (m.kind == "finding") & (m.condition == "icmp.unreachable.frag-needed"),
        c.error << (m.kind == "error") & (m.key == c.finding.origin),
    )
    def next_hop_mtu(c):
        evidence(c, NEXT_HOP_MTU, c.finding.fid, features={"mtu": c.error.mtu, "df": c.error.df})
