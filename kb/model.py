"""The knowledge base as typed records, read-only once loaded."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CauseEvidence:
    """A likelihood ratio for a cause, applied when a diagnosis feature matches."""

    feature: str
    factor: float
    reason: str
    equals: Any = None
    one_of: tuple[Any, ...] | None = None
    at_least: float | None = None

    def matches(self, features: dict[str, Any]) -> bool:
        if self.feature not in features:
            return False
        value = features[self.feature]
        if self.one_of is not None:
            return value in self.one_of
        if self.at_least is not None:
            return isinstance(value, int | float) and value >= self.at_least
        return value == self.equals


@dataclass(frozen=True)
class Cause:
    id: str
    text: str
    prior: float
    checks: tuple[str, ...]
    when: tuple[CauseEvidence, ...] = ()


@dataclass(frozen=True)
class Remedy:
    text: str
    causes: tuple[str, ...] = ()  # empty: applies whatever the cause


@dataclass(frozen=True)
class Reference:
    rfc: int
    note: str
    section: str | None = None

    @property
    def url(self) -> str:
        return f"https://www.rfc-editor.org/rfc/rfc{self.rfc}"


@dataclass(frozen=True)
class Threshold:
    value: float | tuple[float, ...]  # a number, or a list of them (e.g. ports)
    reason: str


@dataclass(frozen=True)
class Condition:
    id: str
    title: str
    status: str
    severity: str
    group: str
    summary: str
    scope: str  # "host" or "service": what one diagnosis is about
    sender: str
    meaning: str
    causes: tuple[Cause, ...]
    remedies: tuple[Remedy, ...]
    falsepositives: tuple[str, ...]
    references: tuple[Reference, ...]
    base_score: float
    base_reason: str
    symptoms: tuple[str, ...]
    icmp_type: int | None = None
    icmp_code: int | None = None
    icmp_family: int = 4  # 6: icmp_type and icmp_code are ICMPv6's
    proves: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    thresholds: dict[str, Threshold] = field(default_factory=dict)
    scenario: str | None = None
    source: str = ""  # the file it was read from, for error messages and docs


@dataclass(frozen=True)
class EvidenceTerm:
    weight: float
    reason: str
    severity: str | None = None  # set: a diagnosis carrying this term takes this severity


@dataclass(frozen=True)
class IcmpType:
    """IANA's name for an ICMP type, and whether it is still in use."""

    name: str
    status: str  # current, deprecated or experimental
    rfc: int | None = None


@dataclass(frozen=True)
class KnowledgeBase:
    conditions: dict[str, Condition]
    evidence: dict[str, EvidenceTerm]
    icmp_types: dict[int, IcmpType] = field(default_factory=dict)
    icmp6_types: dict[int, IcmpType] = field(default_factory=dict)  # ICMPv6's own numbers
    live: dict[str, Threshold] = field(default_factory=dict)  # windows of `netwhy watch`
    # when the report notes the packets netwhy did not analyse
    coverage: dict[str, Threshold] = field(default_factory=dict)

    def type_names(self, family: int) -> dict[int, IcmpType]:
        """IANA's ICMP (family 4) or ICMPv6 (6) type names."""
        return self.icmp6_types if family == 6 else self.icmp_types

    def threshold(self, condition_id: str, name: str) -> Any:
        """A number a rule needs, read from the condition's `thresholds` (never from code)."""
        try:
            return self.conditions[condition_id].thresholds[name].value
        except KeyError as error:
            from netwhy.errors import KnowledgeBaseError

            raise KnowledgeBaseError(
                f"kb/conditions/{condition_id}.yaml: thresholds.{name} is missing"
            ) from error

    def for_icmp(self, icmp_type: int, icmp_code: int, family: int = 4) -> Condition | None:
        """The condition covering an ICMP (family 4) or ICMPv6 (6) type and code: an exact
        code first, else the type's."""
        fallback = None
        for condition in self.conditions.values():
            if condition.icmp_type != icmp_type or condition.icmp_family != family:
                continue
            if condition.icmp_code == icmp_code:
                return condition
            if condition.icmp_code is None:
                fallback = condition
        return fallback
