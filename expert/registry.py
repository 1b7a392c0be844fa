"""Every rule registered once, like Wireshark's expert-info table: id, conditions, summary.

The docs list, for each condition, the rules that can produce or strengthen it, from here.
"""

from __future__ import annotations

from dataclasses import dataclass

ANY_ICMP_CONDITION = "*"  # the rule serves every condition matched by ICMP type and code


@dataclass(frozen=True)
class RuleInfo:
    id: str
    summary: str
    conditions: tuple[str, ...]


RULES: dict[str, RuleInfo] = {}


def register(rule_id: str, summary: str, conditions: tuple[str, ...]) -> str:
    if rule_id in RULES:
        raise ValueError(f"rule {rule_id} registered twice")
    RULES[rule_id] = RuleInfo(rule_id, summary, conditions)
    return rule_id


def rules_for(condition_id: str) -> list[RuleInfo]:
    return [
        rule for rule in RULES.values()
        if condition_id in rule.conditions or ANY_ICMP_CONDITION in rule.conditions
    ]
