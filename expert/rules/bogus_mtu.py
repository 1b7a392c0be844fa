"""Fragmentation needed (3/4) naming a next-hop MTU no IPv4 link can have: a bogus message."""

from __future__ import annotations

from durable.lang import c, m, when_all

from netwhy.expert.registry import Rule
from netwhy.expert.rule_api import RuleApi
from netwhy.kb import KnowledgeBase

RULES = (
    Rule("path-mtu.bogus",
         "A fragmentation-needed error names a next-hop MTU below the IPv4 minimum of 68 bytes",
         ("icmp.unreachable.bogus-mtu",)),
)
(BOGUS,) = (rule.id for rule in RULES)
# Features they attach too, declared by the module that owns them.
SHARED_FEATURES = ("mtu",)


def define(kb: KnowledgeBase, api: RuleApi) -> None:
    floor = kb.threshold("icmp.unreachable.bogus-mtu", "min_plausible_mtu")
    frag_needed = (
        c.finding << (m.kind == "finding") & (m.condition == "icmp.unreachable.frag-needed"),
        # 0 is an old router's "I do not know", not a value.
        c.error << (m.kind == "error") & (m.key == c.finding.origin) & (m.mtu > 0)
        & (m.mtu < floor),
    )

    @when_all(*frag_needed)
    def bogus(c):
        error = c.error
        api.finding(
            c, BOGUS, error.key, "icmp.unreachable.bogus-mtu", src=error.q_src, dst=error.q_dst,
            reporter=error.sender, proto=error.q_proto, sport=error.q_sport,
            dport=error.q_dport, frames=error.frames, count=error.count,
            details={"mtu": error.mtu}, features={"mtu": error.mtu},
        )
        api.evidence(c, BOGUS, c.finding.fid, supersedes=True)

    @when_all(
        c.finding << (m.kind == "finding") & (m.condition == "icmp.unreachable.bogus-mtu"),
        c.error << (m.kind == "error") & (m.key == c.finding.origin),
        c.service << (m.kind == "service") & (m.proto == c.error.q_proto)
        & (m.src == c.error.q_src) & (m.dst == c.error.q_dst) & (m.dport == c.error.q_dport),
    )
    def bogus_for_a_flow(c):
        # The attempts it answers belong to its evidence.
        api.evidence(c, BOGUS, c.finding.fid, cid=c.service.cid)
