"""Parameter Problem (ICMP type 12, ICMPv6 type 4): the pointer decoded to the header field it
blames."""

from __future__ import annotations

from durable.lang import c, m, when_all

from netwhy.expert.registry import Rule
from netwhy.expert.rule_api import RuleApi
from netwhy.kb import KnowledgeBase

RULES = (
    Rule("parameter-problem.pointer",
         "Name the IPv4 header field at the octet the pointer gives (RFC 791 layout)",
         ("icmp.parameter-problem",)),
    Rule("parameter-problem.pointer6",
         "Name the IPv6 header field at the octet the pointer gives (RFC 8200 layout)",
         ("icmp6.parameter-problem",)),
)
POINTER, POINTER6 = (rule.id for rule in RULES)
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


# The same for IPv6 (RFC 8200 section 3); 40 and beyond are extension headers (or the
# transport header, for an unrecognized next header).
IPV6_FIELDS = (
    ("version", 1), ("traffic-class", 1), ("flow-label", 2), ("payload-length", 2),
    ("next-header", 1),
    ("hop-limit", 1), ("source", 16), ("destination", 16),
)


def field_at(pointer: int, layout: tuple[tuple[str, int], ...] = IPV4_FIELDS,
             beyond: str = "options") -> str:
    offset = 0
    for name, size in layout:
        if pointer < offset + size:
            return name
        offset += size
    return beyond


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

    @when_all(
        c.finding << (m.kind == "finding") & (m.condition == "icmp6.parameter-problem"),
        c.error << (m.kind == "error") & (m.key == c.finding.origin),
    )
    def pointer6(c):
        if c.error.pointer < 0:
            return
        # Octets 0 and 1 hold the version, traffic class and flow label's start in nibbles.
        name = field_at(c.error.pointer, IPV6_FIELDS, "extension-header")
        evidence(c, POINTER6, c.finding.fid,
                 features={"pointer": c.error.pointer, "pointer_field": name},
                 details={"pointer": c.error.pointer, "pointer_field": name})
