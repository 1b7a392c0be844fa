"""What the knowledge-base pages are made of: the knowledge base, the rule registry, the lab's
scenarios and (for the documentation site) evidence excerpts; and the names pages link by.

Pages live under kb/ in a site's source folder; links between them are absolute (/kb/...), so
the same pages work in the documentation site and inside a capture report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from netwhy.expert.registry import Rule
from netwhy.kb import KnowledgeBase
from netwhy.site import rst
from netwhy.site.excerpts import Excerpt

SYMPTOMS = {
    "cannot-connect": "Cannot connect", "slow-or-stalls": "Slow or stalls",
    "intermittent": "Intermittent", "wrong-path": "Wrong path",
    "none": "No symptom: normal operation or background noise",
}
SENDERS = {
    "router": "Sent by a router on the path",
    "host": "Sent by the destination host (or about a host)",
    "either": "Sent by a router or a host",
}
INDEX_PAGES = ("kb/by-icmp-type", "kb/by-symptom", "kb/by-sender", "kb/rules", "kb/glossary")


@dataclass(frozen=True)
class ScenarioInfo:
    name: str
    description: str
    made_by: str  # "kernel" or "scapy"
    errors: tuple[tuple[int, int], ...]  # the ICMP (type, code) pairs its capture holds


@dataclass(frozen=True)
class KbInputs:
    kb: KnowledgeBase
    rules: Sequence[Rule]
    scenarios: Mapping[str, ScenarioInfo]
    excerpts: Mapping[str, Excerpt] | None = None  # None: pages without evidence excerpts
    only: frozenset[str] | None = None  # a report's conditions; None: the whole knowledge base

    def has_page(self, condition_id: str) -> bool:
        return self.only is None or condition_id in self.only

    def link(self, condition_id: str) -> str:
        """A link to the condition's page, or its name where this site has no page for it."""
        title = self.kb.conditions[condition_id].title
        if self.has_page(condition_id):
            return rst.doc("/" + page_name(condition_id), title)
        return rst.text(title)


def kb_inputs(captures: Path | None, cache: Path | None = None) -> KbInputs:
    """Everything the pages are made of, read now; with `captures`, evidence excerpts from the
    scenario captures in that folder (remembered in `cache`)."""
    from netwhy.expert.registry import all_rules
    from netwhy.kb import load_knowledge_base
    from netwhy.site.excerpts import excerpts

    kb = load_knowledge_base()
    found = None
    if captures is not None:
        found = excerpts({c.id: c.scenario for c in kb.conditions.values() if c.scenario},
                         captures, cache)
    return KbInputs(kb, all_rules(), lab_scenarios(), found)


def lab_scenarios() -> dict[str, ScenarioInfo]:
    """The lab's scenarios, or none when the lab cannot load (it needs scapy)."""
    try:
        from netwhy.lab.catalog import SCENARIOS
    except ImportError:
        return {}
    return {name: ScenarioInfo(name, s.description, s.made_by, s.errors)
            for name, s in SCENARIOS.items()}


def page_name(condition_id: str) -> str:
    return f"kb/{condition_id}"


def cause_label(condition_id: str, cause_id: str) -> str:
    return f"kb-{condition_id}-{cause_id}"
