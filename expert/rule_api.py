"""What a rule's action may do: conclude a finding, or attach evidence to one.

Each rule module's `define(kb, api)` receives the knowledge base and one `RuleApi`, which the
engine owns: the conclusions of every running session are kept here, by session id, and only
findings that some rule joins on enter the engine again. A rule attaches only the features and
terms its module declares (registry.py): anything else is a bug, refused at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from durable.engine import MessageNotHandledException, MessageObservedException

from netwhy.expert.registry import RuleModule

# Most evidence carries no features or details: one shared, read-only empty mapping instead of
# two dicts each (a busy capture concludes tens of thousands of evidence facts).
_NOTHING: Mapping[str, Any] = MappingProxyType({})


class RuleApi:
    def __init__(self, modules: Iterable[RuleModule]) -> None:
        self._declared: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
        for entry in modules:
            for rule in entry.rules:
                self._declared[rule.id] = (entry.attaches, entry.terms)
        self.joined: frozenset[str] = frozenset()  # conditions some rule joins findings on
        self.sessions: dict[str, list[dict[str, Any]]] = {}

    def finding(
        self,
        c: Any,
        rule: str,
        origin: str,
        condition: str,
        *,
        src: str,
        dst: str | Sequence[str],
        reporter: str,
        frames: Sequence[int],
        proto: str = "",
        sport: int = -1,
        dport: int = -1,
        count: int = 1,
        details: dict[str, Any] | None = None,
        features: dict[str, Any] | None = None,
        tag: str = "",
    ) -> str:
        """Conclude a finding about the observation `origin` (its key), with the features its
        rule saw; `dst` is one address or several. Returns the finding's id."""
        fid = self.finding_id(condition, origin, rule, tag)
        fact = {
            "kind": "finding", "fid": fid, "origin": origin, "condition": condition,
            "src": src, "dst": dst if isinstance(dst, str) else list(dst),
            "proto": proto, "sport": sport, "dport": dport, "reporter": reporter, "count": count,
            "frames": list(frames), "details": details or _NOTHING,
        }
        self._conclude(c, fact)
        # Into the engine too, without the bulky parts, if a rule may join on it: every finding
        # made from an ICMP error is joined to that error (icmp_errors.py), others by condition.
        if condition in self.joined or origin.startswith("error:"):
            assert_distinct(c.assert_fact, {key: value for key, value in fact.items()
                                            if key not in ("frames", "details")})
        self.evidence(c, rule, fid, features=features)
        return fid

    @staticmethod
    def finding_id(condition: str, origin: str, rule: str, tag: str = "") -> str:
        """The id `finding` gives: a rule that knows the observation a finding was made from
        can attach evidence to it without the finding in the engine."""
        # Two rules (or one rule for two reasons) may find the same condition: both count.
        return f"{condition}@{origin}#{rule}{tag}"

    def evidence(
        self,
        c: Any,
        rule: str,
        fid: str,
        term: str = "",
        features: dict[str, Any] | None = None,
        frames: Sequence[int] | None = None,
        cid: int = -1,
        details: dict[str, Any] | None = None,
        supersedes: bool = False,
        tag: str = "",
    ) -> None:
        """Attach one piece of evidence to a finding: a score term, features, frames, the
        conversation (`cid`) it concerns. `supersedes`: a more specific finding replaces this
        one (a redirect found ignored is reported as icmp.redirect.ignored, not also as
        icmp.redirect)."""
        declared_features, declared_terms = self._declared[rule]
        if term and term not in declared_terms:
            raise ValueError(f"rule {rule} attaches term {term!r}, which its module lacks")
        if features and not features.keys() <= declared_features:
            raise ValueError(f"rule {rule} attaches undeclared features "
                             f"{sorted(features.keys() - declared_features)}")
        self._conclude(c, {
            "kind": "evidence", "eid": f"{fid}/{rule}/{term}/{tag}", "fid": fid, "rule": rule,
            "term": term, "features": features or _NOTHING, "frames": tuple(frames or ()),
            "cid": cid, "details": details or _NOTHING, "supersedes": supersedes,
        })

    def fold(self, c: Any, rule: str, origin: str, conditions: Sequence[str] | None) -> None:
        """Fold the findings made from the observation `origin` (of these conditions, or of
        any) into the finding this rule concluded: a scan replaces the refusals its probes
        drew. Unlike `evidence(..., supersedes=True)` it needs no finding in the engine, so
        the findings it may fold stay out of it (thousands on a busy capture)."""
        if rule not in self._declared:
            raise ValueError(f"rule {rule} is not declared")
        self._conclude(c, {"kind": "fold", "origin": origin, "rule": rule,
                           "conditions": None if conditions is None else list(conditions)})

    def _conclude(self, c: Any, fact: dict[str, Any]) -> None:
        self.sessions[c.s.sid].append(fact)


def assert_distinct(assert_one: Callable[[dict[str, Any]], Any], fact: dict[str, Any]) -> None:
    """durable-rules knows a fact by a 32-bit hash of its content: two different facts collide
    with odds of about n^2 / 2^33 and the second is refused as already observed (a traceback at
    the top level, a silently aborted action inside a rule). A salt no rule reads fixes it.
    A fact that no rule tests (a service nobody reported an error about) is refused as not
    handled: normal, and nothing to keep."""
    for salt in range(_SALTS):
        try:
            assert_one({**fact, "salt": salt} if salt else fact)
            return
        except MessageObservedException:
            continue
        except MessageNotHandledException:
            return
    raise MessageObservedException(fact)


_SALTS = 4  # a second collision of the same fact is a one-in-billions event
