"""Parameter Problem (type 12): the pointer decoded to the header field it blames."""

from __future__ import annotations

from durable.lang import c, m, when_all

from netwhy.expert.registry import Rule
from netwhy.expert.rule_api import RuleApi
from netwhy.kb import KnowledgeBase

RULES = (
    Rule("parameter-problem.pointer",
         "Name the IPv4 header field at the octet the pointer gives (RFC 791 layout)",
         ("icmp.parameter-problem",)),
)
POINTER, = (rule.id for rule in RULES)
# What these rules attach to a finding for the knowledge base's `when` clauses.
FEATURES = {
    "pointer": ("int", "parameter problem: octet offset the pointer names"),
    "pointer_field": ("string", "the IP header field at that offset (e.g. options, ttl)"),
}
# Octet offset in the IPv4 header -> field (RFC 791, figure 4); 20 and beyond are options.
IPV4_FIELDS = (
    ("version-ihl", 1), ("tos", 1), ("total-length", 2), ("identification", 2),
    ("flags-fragment", 2), ("ttl", 1), ("protocol", 1), ("checksum", 2), ("source", 4),
    ("destination", 4),
)


def field_at(pointer: int) -> str:
    offset = 0
    for name, size in IPV4_FIELDS:
        if pointer < offset + size:
            return name
        offset += size
    return "options"


def define(kb: KnowledgeBase, api: RuleApi) -> None:
    evidence = api.evidence
    @when_all(
        c.finding << (m.kind == "finding") & (m.condition == "icmp.parameter-problem"),
        c.error << (m.kind == "error") & (m.key == c.finding.origin),
    )
    def pointer(c):
        if c.error.pointer < 0:
            return  # codes 1 and 2 carry no pointer
        name = field_at(c.error.pointer)
        evidence(c, POINTER, c.finding.fid,
                 features={"pointer": c.error.pointer, "pointer_field": name},
                 details={"pointer": c.error.pointer, "pointer_field": name})
