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
from netwhy.expert.observations import ErrorGroup, ServiceAttempts
from netwhy.expert.scoring import diagnosis_score, ranked_causes
from netwhy.kb import Condition, KnowledgeBase


@dataclass
class Finding:
    """One error group matched to a condition, with the evidence the rules attached."""

    condition: Condition
    group: ErrorGroup
    evidence: list[dict[str, Any]]


def assemble(
    kb: KnowledgeBase,
    concluded: list[dict[str, Any]],
    groups: dict[int, ErrorGroup],
    services: dict[int, ServiceAttempts],
) -> list[Diagnosis]:
    evidence: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for fact in concluded:
        if fact["kind"] == "evidence":
            evidence[fact["fid"]].append(fact)
    subjects: dict[tuple, list[Finding]] = defaultdict(list)
    for fact in concluded:
        if fact["kind"] != "finding":
            continue
        fid = fact["fid"]
        finding = Finding(kb.conditions[fact["condition"]], groups[fid], evidence[fid])
        subjects[_subject_key(finding)].append(finding)
    diagnoses = [_diagnosis(kb, findings, services) for findings in subjects.values()]
    return sorted(
        diagnoses,
        key=lambda d: (-d.score, -SEVERITY_ORDER[d.severity], d.evidence[:1] or (0,)),
    )


def _subject_key(finding: Finding) -> tuple:
    group = finding.group
    key = (finding.condition.id, group.sender, group.q_src, group.q_dst)
    return key + ((group.proto, group.q_dport) if finding.condition.scope == "service" else ())


def _diagnosis(
    kb: KnowledgeBase, findings: list[Finding], services: dict[int, ServiceAttempts]
) -> Diagnosis:
    condition = findings[0].condition
    evidence = sorted((e for f in findings for e in f.evidence), key=lambda e: e["eid"])
    features = _merged_features(evidence)
    terms = [item["term"] for item in evidence if item["term"]]
    score, score_terms = diagnosis_score(condition, terms, kb)
    groups = [finding.group for finding in findings]
    subject = _subject(groups)
    details = _details(groups)
    summary = condition.summary.format_map(_Fields(
        src=subject.src, dst=subject.dst, proto=subject.proto, sport=subject.sport,
        dport=subject.dport, reporter=groups[0].sender, **details,
    ))
    return Diagnosis(
        condition=condition.id,
        title=condition.title,
        severity=condition.severity,
        score=score,
        terms=score_terms,
        summary=summary,
        subject=subject,
        reporter=groups[0].sender,
        evidence=_frames(groups, evidence, services, features),
        causes=ranked_causes(condition, features),
        remedies=condition.remedies,
        established=() if "sender-unexpected" in terms else condition.proves,
        details=details,
        rules=tuple(sorted({item["rule"] for item in evidence})),
    )


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


def _subject(groups: list[ErrorGroup]) -> Subject:
    protos = sorted({group.proto for group in groups})
    ports = {group.q_dport for group in groups}
    sports = set().union(*(group.sports for group in groups))
    port = next(iter(ports)) if len(ports) == 1 else -1
    return Subject(
        src=groups[0].q_src, dst=groups[0].q_dst, proto="+".join(protos),
        sport=next(iter(sports)) if len(sports) == 1 else None,
        dport=None if port < 0 else port,
    )


def _details(groups: list[ErrorGroup]) -> dict[str, Any]:
    details: dict[str, Any] = {
        "count": sum(group.count for group in groups),
        "first_time": round(min(group.first_time for group in groups), 6),
    }
    mtus = set().union(*(group.mtus for group in groups))
    if mtus:
        details["mtu"] = min(mtus)
    gateways = sorted(set().union(*(group.gateways for group in groups)))
    if gateways:
        details["gateway"] = gateways[0]
    return details


def _frames(
    groups: list[ErrorGroup],
    evidence: list[dict[str, Any]],
    services: dict[int, ServiceAttempts],
    features: dict[str, Any],
) -> tuple[int, ...]:
    """The errors, the attempts they answer, and earlier replies when those matter."""
    frames = {frame for group in groups for frame in group.frames}
    for item in evidence:
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
