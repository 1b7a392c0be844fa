"""Timestamp (13/14) and address mask (17/18) requests paired with their replies, and ICMP and
ICMPv6 types netwhy has no entry for."""

from __future__ import annotations

import functools
import operator
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from durable.lang import m, when_all

from netwhy.dissect import icmp, icmp6
from netwhy.expert.registry import Rule
from netwhy.expert.rule_api import RuleApi
from netwhy.kb import KnowledgeBase

RULES = (
    Rule("query.timestamp",
         "Timestamp requests and their replies",
         ("icmp.timestamp",)),
    Rule("query.address-mask",
         "Address mask requests and replies; replies that disagree about the mask",
         ("icmp.address-mask",)),
    Rule("icmp.unknown-type",
         "An ICMP or ICMPv6 type (or a code of a known error) that no knowledge-base entry covers",
         ("icmp.unknown-type", "icmp6.unknown-type")),
)
TIMESTAMP, MASK, UNKNOWN = (rule.id for rule in RULES)
# What these rules attach to a finding for the knowledge base's `when` clauses.
FEATURES = {
    "unanswered": ("bool", "a request (timestamp, address mask) got no reply"),
    "mask_disagrees": ("bool", "an address mask reply differs from the mask in use on the segment"),
    "type": ("int", "the ICMP or ICMPv6 type"),
}
# Features they attach too, declared by the module that owns them.
SHARED_FEATURES = ("requests",)


def define(kb: KnowledgeBase, api: RuleApi) -> None:
    finding = api.finding
    @when_all((m.kind == "icmp_query") & (m.query == "timestamp"))
    def timestamp(c):
        finding(
            c, TIMESTAMP, c.m.key, "icmp.timestamp", src=c.m.src, dst=c.m.targets,
            reporter=c.m.src, proto="icmp", frames=c.m.frames, count=c.m.requests,
            details={"requests": c.m.requests, "replies": c.m.replies},
            features={"requests": c.m.requests, "unanswered": c.m.replies < c.m.requests},
        )

    @when_all((m.kind == "icmp_query") & (m.query == "address-mask"))
    def address_mask(c):
        masks = list(c.m.masks)
        common = Counter(masks).most_common(1)[0][0] if masks else ""
        odd = sorted({mask for mask in masks if mask != common})
        finding(
            c, MASK, c.m.key, "icmp.address-mask", src=c.m.src, dst=c.m.targets,
            reporter=c.m.src, proto="icmp", frames=c.m.frames,
            count=c.m.requests,
            details={"mask": ", ".join(odd) or common, "replies": c.m.replies},
            features={"mask_disagrees": bool(odd), "unanswered": c.m.replies == 0},
        )

    @when_all(m.kind == "icmp_unknown")
    def unknown_type(c):
        _unknown(kb, api, c, c.m.key, c.m.family, c.m.type, c.m.code, c.m.src, c.m.dst,
                 c.m.frames, c.m.count)

    uncovered = _uncovered_codes(kb)
    if uncovered is not None:

        @when_all((m.kind == "error") & uncovered)
        def unknown_error_code(c):
            _unknown(kb, api, c, c.m.key, c.m.family, c.m.type, c.m.code, c.m.sender,
                     c.m.receiver, c.m.frames, c.m.count)


def _uncovered_codes(kb: KnowledgeBase) -> Any:
    """The codes of ICMP error types that no knowledge-base entry covers, as one pattern (ranges
    of codes per type): a busy capture has thousands of errors, every one of a covered code,
    and the rule should not fire for each only to find it has nothing to say. None: every code
    of every error type is covered."""
    gaps = [
        (m.family == family) & (m.type == icmp_type) & (m.code >= low) & (m.code <= high)
        for family, types in ((4, icmp.ERROR_TYPES), (6, icmp6.ERROR_TYPES))
        for icmp_type in sorted(types)
        for low, high in _runs(code for code in range(256)
                               if kb.for_icmp(icmp_type, code, family) is None)
    ]
    return functools.reduce(operator.or_, gaps) if gaps else None


def _runs(numbers: Iterable[int]) -> Iterator[tuple[int, int]]:
    """Ascending numbers as (first, last) of each run of consecutive ones."""
    first = last = None
    for number in numbers:
        if last is not None and number == last + 1:
            last = number
            continue
        if first is not None:
            yield first, last
        first = last = number
    if first is not None:
        yield first, last


def _unknown(kb: KnowledgeBase, api: RuleApi, c, key, family, icmp_type, code, src, dst, frames,
             count) -> None:
    known = kb.type_names(family).get(icmp_type)
    condition, proto = ("icmp.unknown-type", "icmp") if family == 4 else (
        "icmp6.unknown-type", "icmpv6")
    api.finding(
        c, UNKNOWN, key, condition, src=src, dst=dst, reporter=src, proto=proto,
        frames=frames, count=count,
        details={"type": icmp_type, "code": code,
                 "name": known.name if known else "unassigned",
                 "status": known.status if known else "unassigned"},
        features={"type": icmp_type},
    )
