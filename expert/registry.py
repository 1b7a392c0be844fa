"""Every rule registered once, like Wireshark's expert-info table.

Each module in `expert/rules/` holds one table, `RULES`, of the rules it defines (id, summary,
the conditions it serves), and declares what its rules may attach to a finding: `FEATURES`, the
names a knowledge-base `when` clause can test (with their type and meaning, for the docs), and
`TERMS`, the evidence terms it scores (weighed in `kb/evidence.yaml`). The modules are found by
listing the folder: adding one edits nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType

ANY_ICMP_CONDITION = "*"  # the rule serves every condition matched by ICMP type and code

# Features the assembly of a diagnosis adds itself, whatever rule found it.
ASSEMBLY_FEATURES: Mapping[str, tuple[str, str]] = {
    "hops": ("int", "distinct routers that reported this subject"),
}


@dataclass(frozen=True)
class Rule:
    id: str
    summary: str
    conditions: tuple[str, ...]


@dataclass(frozen=True)
class RuleModule:
    """One module of rules: its table and what its rules attach."""

    module: ModuleType
    rules: tuple[Rule, ...]
    features: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    terms: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return self.module.__name__.rsplit(".", 1)[-1]


@cache
def rule_modules() -> tuple[RuleModule, ...]:
    """Every module in expert/rules/, in name order, with its declarations checked."""
    from netwhy.expert import rules

    found = []
    for info in sorted(pkgutil.iter_modules(rules.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{rules.__name__}.{info.name}")
        found.append(RuleModule(module, tuple(module.RULES), dict(getattr(module, "FEATURES", {})),
                                frozenset(getattr(module, "TERMS", ()))))
    ids = [rule.id for entry in found for rule in entry.rules]
    if len(ids) != len(set(ids)):
        raise ValueError(f"rules registered twice: {sorted({i for i in ids if ids.count(i) > 1})}")
    return tuple(found)


def all_rules() -> list[Rule]:
    return [rule for entry in rule_modules() for rule in entry.rules]


def features() -> dict[str, tuple[str, str]]:
    """Every feature a `when` clause can test, with its type and meaning."""
    out = dict(ASSEMBLY_FEATURES)
    for entry in rule_modules():
        out.update(entry.features)
    return out


def terms() -> frozenset[str]:
    """Every evidence term a rule may attach."""
    return frozenset().union(*(entry.terms for entry in rule_modules()))


def rules_for(condition_id: str, icmp_matched: bool) -> list[Rule]:
    """The rules that serve a condition: those naming it, and for a condition matched by ICMP
    type and code (`icmp_matched`) those serving every such condition. A condition no rule
    names is an error: nothing would ever find it."""
    found = [rule for rule in all_rules() if condition_id in rule.conditions
             or (icmp_matched and ANY_ICMP_CONDITION in rule.conditions)]
    if not found:
        raise LookupError(f"no rule serves {condition_id}")
    return found
