"""What the expert system concludes: diagnoses with their ranked causes and score terms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEVERITY_ORDER = {"error": 3, "warning": 2, "note": 1, "chat": 0}
DSTS_SHOWN = 8  # destinations a subject names in full


@dataclass(frozen=True)
class ScoreTerm:
    """One addend of a score, with the reason a user can check."""

    name: str
    value: float
    reason: str


class Subject:
    """Who could not reach what: one source, the destinations and protocols its findings name
    (a host-wide diagnosis may cover several), and the ports when there is one of each.

    Not a dataclass: orjson would write a dataclass's fields as they are, and the report's
    JSON keeps its keys (`dst` and `proto` as shown), which `to_dict` gives."""

    __slots__ = ("dport", "dsts", "protos", "sport", "src")

    def __init__(self, src: str, dsts: tuple[str, ...], protos: tuple[str, ...],
                 sport: int | None = None, dport: int | None = None) -> None:
        self.src, self.dsts, self.protos, self.sport, self.dport = src, dsts, protos, sport, dport

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Subject) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Subject{self._key()!r}"

    def _key(self) -> tuple:
        return (self.src, self.dsts, self.protos, self.sport, self.dport)

    def concerns(self, host: str) -> bool:
        return host == self.src or host in self.dsts

    @property
    def dst(self) -> str:
        """The destinations as the report shows them; a long list (a sweep's hosts) by its
        first and last, with their number."""
        if len(self.dsts) <= DSTS_SHOWN:
            return ", ".join(self.dsts)
        return f"{', '.join(self.dsts[:2])}, ..., {self.dsts[-1]} ({len(self.dsts)} addresses)"

    @property
    def proto(self) -> str:
        """The protocols as the report shows them (tcp+udp)."""
        return "+".join(self.protos)

    def to_dict(self) -> dict[str, Any]:
        """Its JSON form, the same keys as ever: the destinations and protocols as shown."""
        return {"src": self.src, "dst": self.dst, "proto": self.proto, "sport": self.sport,
                "dport": self.dport}

    def describe(self) -> str:
        port = f"{self.proto}/{self.dport}" if self.dport is not None else self.proto
        return f"{self.src} -> {self.dst} {port}"


@dataclass(frozen=True)
class RankedCause:
    id: str
    text: str
    score: float  # share of the belief across this diagnosis's causes, 0..1
    prior: float
    terms: tuple[ScoreTerm, ...]  # the likelihood ratios that moved it from its prior
    checks: tuple[str, ...]


@dataclass(frozen=True)
class Diagnosis:
    # Its fields, and only they, are its JSON form: the report writes them as they are
    # (json_report.item_line), so keep derived values out of its attributes.
    condition: str
    title: str
    severity: str
    score: float
    terms: tuple[ScoreTerm, ...]
    summary: str
    subject: Subject
    reporter: str
    evidence: tuple[int, ...]
    causes: tuple[RankedCause, ...]
    remedies: tuple[str, ...]
    established: tuple[str, ...] = ()  # what the evidence proves works (path, host up)
    details: dict[str, Any] = field(default_factory=dict)  # e.g. next-hop MTU, counts
    rules: tuple[str, ...] = ()  # ids of the rules that contributed

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)


_ATOMS = (str, int, float, type(None))  # bool is an int


def _plain(value: Any) -> Any:
    """Like dataclasses.asdict, without its deep copies (seconds on a large report). Plain
    values are tested in place, not passed down: a report holds about a million of them."""
    if hasattr(value, "__dataclass_fields__"):
        return _fields(value)
    if isinstance(value, Subject):
        return value.to_dict()
    if isinstance(value, list | tuple):
        return [item if isinstance(item, _ATOMS) else _plain(item) for item in value]
    if isinstance(value, dict):
        return {key: item if isinstance(item, _ATOMS) else _plain(item)
                for key, item in value.items()}
    return value


def _fields(value: Any) -> dict[str, Any]:
    fields = ((name, getattr(value, name)) for name in value.__dataclass_fields__)
    return {name: item if isinstance(item, _ATOMS) else _plain(item) for name, item in fields}
