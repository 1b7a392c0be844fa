"""Fragmentation needed and DF set (3/4): the next-hop MTU and whether the sender can learn it."""

from __future__ import annotations

from durable.lang import c, m, when_all
from netwhy.expert.facts import evidence
from netwhy.expert.registry import register

NEXT_HOP_MTU = register(
    "path-mtu.next-hop-mtu",
    "A fragmentation-needed error names the next-hop MTU (or 0 from a pre-RFC 1191 router)",
    ("icmp.unreachable.frag-needed",),
)


def define() -> None:
    @when_all(
        c.finding << (m.kind == "finding") & (m.condition == "icmp.unreachable.frag-needed"),
        c.error << (m.kind == "error") & (m.key == c.finding.origin),
    )
    def next_hop_mtu(c):
        evidence(c, NEXT_HOP_MTU, c.finding.fid, features={"mtu": c.error.mtu, "df": c.error.df})
