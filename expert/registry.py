"""Every rule registered once, like Wireshark's expert-info table.

Each module in `expert/rules/` holds one table, `RULES`, of the rules it defines (id, summary,
the conditions it serves), and declares what its rules may attach to a finding: `FEATURES`, the
names a knowledge-base `when` clause can test that the module owns (with their type and meaning,
for the docs), `SHARED_FEATURES`, those it attaches too but another module owns (each feature's
meaning is written once), and `TERMS`, the evidence terms it scores (weighed in
`kb/evidence.yaml`). A module may also derive facts of its own from the observations
(`observation_facts(seen, kb)`: it may leave out, by the knowledge base's thresholds, what
no rule of its would conclude anything from, so that the engine stores only what matters).
The modules are found by listing the folder: adding one edits nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType
from typing import Any

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
    """One module of rules: its table, what its rules attach, and the facts it derives."""

    module: ModuleType
    rules: tuple[Rule, ...]
    features: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # owned here
    attaches: frozenset[str] = frozenset()  # features its rules attach, owned here or not
    terms: frozenset[str] = frozenset()
    observation_facts: Callable[[Any, Any], Iterator[dict[str, Any]]] | None = None


@cache
def rule_modules() -> tuple[RuleModule, ...]:
    """Every module in expert/rules/, in name order, with its declarations checked."""
    from netwhy.expert import rules

    found = []
    for info in sorted(pkgutil.iter_modules(rules.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{rules.__name__}.{info.name}")
        owned = dict(getattr(module, "FEATURES", {}))
        found.append(RuleModule(
            module, tuple(module.RULES), owned,
            frozenset(owned) | frozenset(getattr(module, "SHARED_FEATURES", ())),
            frozenset(getattr(module, "TERMS", ())), getattr(module, "observation_facts", None)))
    _refuse_twice("rules", [rule.id for entry in found for rule in entry.rules])
    _refuse_twice("features", [*ASSEMBLY_FEATURES, *(f for entry in found for f in entry.features)])
    owned = {*ASSEMBLY_FEATURES, *(f for entry in found for f in entry.features)}
    unowned = {f for entry in found for f in entry.attaches} - owned
    if unowned:
        raise ValueError(f"features no rule module declares: {sorted(unowned)}")
    return tuple(found)


def _refuse_twice(what: str, names: list[str]) -> None:
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"{what} declared twice: {twice}")


def all_rules() -> list[Rule]:
    return [rule for entry in rule_modules() for rule in entry.rules]


def features() -> dict[str, tuple[str, str]]:
    """Every feature a `when` clause can test, with its type and meaning."""
    return dict(ASSEMBLY_FEATURES, **{name: declared for entry in rule_modules()
                                      for name, declared in entry.features.items()})


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
