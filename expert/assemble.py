"""From the engine's findings and evidence to diagnoses a user reads.

One diagnosis per condition and subject: for a host-scoped condition (host unreachable) every
service the client tried on that host shares it; for a service-scoped one (port unreachable)
each protocol and port gets its own.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from netwhy.expert.diagnosis import SEVERITY_ORDER, Diagnosis, Subject
from netwhy.expert.observations import ServiceAttempts
from netwhy.expert.scoring import diagnosis_score, ranked
from netwhy.kb import Condition, KnowledgeBase


@dataclass
class Finding:
    """A condition about a subject, as a rule asserted it, with the evidence rules attached."""

    condition: Condition
    fact: dict[str, Any]
    evidence: list[dict[str, Any]]


def assemble(
    kb: KnowledgeBase,
    concluded: list[dict[str, Any]],
    services: dict[int, ServiceAttempts],
) -> list[Diagnosis]:
    evidence: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for fact in concluded:
        if fact["kind"] == "evidence":
            evidence[fact["fid"]].append(fact)
    superseded = {fid for fid, items in evidence.items() if any(i["supersedes"] for i in items)}
    folded = _folded(concluded)
    subjects: dict[tuple, list[Finding]] = defaultdict(list)
    for fact in concluded:
        if fact["kind"] != "finding" or fact["fid"] in superseded:
            continue
        into = folded.get(fact["origin"], ())
        if into is not None and fact["condition"] not in into:
            found = Finding(kb.conditions[fact["condition"]], fact, evidence[fact["fid"]])
            subjects[_subject_key(found)].append(found)
    diagnoses = [_diagnosis(kb, findings, services) for findings in subjects.values()]
    return sorted(
        diagnoses,
        key=lambda d: (-d.score, -SEVERITY_ORDER[d.severity], d.evidence[:1] or (0,)),
    )


def _folded(concluded: list[dict[str, Any]]) -> dict[str, frozenset[str] | None]:
    """Origins whose findings a rule folded into its own, with the conditions folded (None:
    every condition)."""
    folded: dict[str, frozenset[str] | None] = {}
    for fact in concluded:
        if fact["kind"] == "fold":
            before, these = folded.get(fact["origin"], frozenset()), fact["conditions"]
            both = None if before is None or these is None else before | frozenset(these)
            folded[fact["origin"]] = both
    return folded


def _subject_key(found: Finding) -> tuple:
    """What one diagnosis is about, by the condition's scope in the knowledge base."""
    fact, scope, condition = found.fact, found.condition.scope, found.condition.id
    if scope == "station":  # everything about one station: a wrong mask, a storm
        return (condition, fact["src"])
    dsts = tuple(_dsts(fact))
    if scope == "path":  # every router on the way from src to dst: a traceroute, a loop
        return (condition, fact["src"], dsts)
    key = (condition, fact["reporter"], fact["src"], dsts)
    return key + ((fact["proto"], fact["dport"]) if scope == "service" else ())


def _diagnosis(
    kb: KnowledgeBase, findings: list[Finding], services: dict[int, ServiceAttempts]
) -> Diagnosis:
    condition = findings[0].condition
    evidence = sorted((e for f in findings for e in f.evidence), key=lambda e: e["eid"])
    features = _merged_features(evidence)
    terms = [item["term"] for item in evidence if item["term"]]
    score, score_terms = diagnosis_score(condition, terms, kb)
    facts = sorted((found.fact for found in findings), key=lambda f: min(f["frames"] or [0]))
    features.setdefault("hops", len({fact["reporter"] for fact in facts if fact["reporter"]}))
    subject = _subject(facts)
    details = _details(facts, evidence)
    reporter = next((fact["reporter"] for fact in facts if fact["reporter"]), "")
    summary = condition.summary.format_map(_Fields(
        src=subject.src, dst=subject.dst, proto=subject.proto, sport=subject.sport,
        dport=subject.dport, reporter=reporter, **details,
    ))
    causes, remedies = ranked(condition, features)
    return Diagnosis(
        condition=condition.id,
        title=condition.title,
        severity=_severity(condition, terms, kb, score),
        score=score,
        terms=score_terms,
        summary=summary,
        subject=subject,
        reporter=reporter,
        evidence=_frames(facts, evidence, services, features),
        causes=causes,
        remedies=remedies,
        established=() if "sender-unexpected" in terms else condition.proves,
        details=details,
        rules=tuple(sorted({item["rule"] for item in evidence})),
    )


# The score a diagnosis needs to keep its severity: below it, the evidence is too thin for an
# error (or a warning), and the diagnosis drops until its score reaches the floor (an error at
# 0.2 is a guess: a note).
SEVERITY_FLOORS = {"error": 0.4, "warning": 0.25}
_ONE_STEP_DOWN = {"error": "warning", "warning": "note"}


def _severity(condition: Condition, terms: list[str], kb: KnowledgeBase, score: float) -> str:
    """An evidence term may set the severity (a traceroute's time exceeded is only chat); if
    several do, the most severe wins. Then the score must reach the severity's floor."""
    overrides = [kb.evidence[t].severity for t in terms if kb.evidence[t].severity]
    severity = max(overrides, key=SEVERITY_ORDER.__getitem__) if overrides else condition.severity
    while score < SEVERITY_FLOORS.get(severity, 0.0):
        severity = _ONE_STEP_DOWN[severity]
    return severity


def _merged_features(evidence: list[dict[str, Any]]) -> dict[str, Any]:
    """Several findings merged: a flag holds if it held for any, a number takes its largest."""
    merged: dict[str, Any] = {}
    for item in evidence:
        for name, value in item["features"].items():
            if name not in merged:
                merged[name] = value
            elif isinstance(value, bool):
                merged[name] = merged[name] or value
            elif isinstance(value, int | float) and isinstance(merged[name], int | float):
                merged[name] = max(merged[name], value)
    return merged


def _subject(facts: list[dict[str, Any]]) -> Subject:
    protos = sorted({fact["proto"] for fact in facts if fact["proto"]})
    destinations = list(dict.fromkeys(address for fact in facts for address in _dsts(fact)))
    ports = {fact["dport"] for fact in facts}
    sports = {fact["sport"] for fact in facts}
    port = next(iter(ports)) if len(ports) == 1 else -1
    sport = next(iter(sports)) if len(sports) == 1 else -1
    return Subject(
        src=facts[0]["src"], dsts=tuple(destinations), protos=tuple(protos),
        sport=None if sport < 0 else sport, dport=None if port < 0 else port,
    )


def _dsts(fact: dict[str, Any]) -> list[str]:
    """A finding names one destination, or several (the addresses a proxy answers for)."""
    dst = fact["dst"]
    return [dst] if isinstance(dst, str) else dst


def _details(facts: list[dict[str, Any]], evidence: list[dict[str, Any]]) -> dict[str, Any]:
    # Findings from one observation count its messages once, however many rules found them.
    counts = {fact["origin"]: fact["count"] for fact in facts}
    details: dict[str, Any] = {"count": sum(counts.values())}
    reporters = list(dict.fromkeys(fact["reporter"] for fact in facts if fact["reporter"]))
    details["hops"] = len(reporters)
    details["path"] = " -> ".join(reporters)  # routers in the order they first spoke
    for item in [*facts, *evidence]:
        for name, value in item["details"].items():
            details.setdefault(name, value)
    return details


def _frames(
    facts: list[dict[str, Any]],
    evidence: list[dict[str, Any]],
    services: dict[int, ServiceAttempts],
    features: dict[str, Any],
) -> tuple[int, ...]:
    """The finding's frames, the attempts an error answers, and earlier replies if they matter."""
    frames = {frame for fact in facts for frame in fact["frames"]}
    for item in evidence:
        frames.update(item["frames"])
        service = services.get(item["cid"])
        if service is not None:
            frames.update(service.request_frames)
            if features.get("replies_before"):
                frames.update(service.reply_frames)
    return tuple(sorted(frames))


class _Fields(dict):
    """Summary templates never fail on a field this diagnosis lacks."""

    def __missing__(self, key: str) -> str:
        return "?"

    def __getitem__(self, key: str) -> Any:
        value = super().__getitem__(key) if key in self else self.__missing__(key)
        return "?" if value is None else value
