"""The pipeline: capture -> facts -> observations -> rules -> diagnoses."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netwhy.dissect import CaptureReader
from netwhy.expert.diagnosis import SEVERITY_ORDER, Diagnosis, Subject
from netwhy.expert.engine import run_rules
from netwhy.expert.facts import error_fact, service_fact
from netwhy.expert.observations import ErrorGroup, Observations, ServiceAttempts, observe
from netwhy.expert.scoring import diagnosis_score, ranked_causes
from netwhy.kb import KnowledgeBase, load_knowledge_base


@dataclass
class Report:
    capture: str
    tshark_version: str
    packets: int
    diagnoses: list[Diagnosis]
    truncated: str | None = None
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def analyze(path: Path | str) -> Report:
    reader = CaptureReader(path)  # refuses bad input before anything else is loaded
    kb = load_knowledge_base()
    started = time.perf_counter()
    seen = observe(reader.facts())
    dissected = time.perf_counter()
    diagnoses = diagnose(seen, kb)
    finished = time.perf_counter()
    summary = reader.summary
    assert summary is not None  # facts() ran to its end
    notes = []
    if seen.untracked_conversations:
        notes.append(
            f"state cap reached: {seen.untracked_conversations} conversations were counted but "
            "not tracked, so errors about them may lack their conversation"
        )
    return Report(
        capture=str(path),
        tshark_version=summary.tshark_version,
        packets=summary.packets,
        diagnoses=diagnoses,
        truncated=summary.truncated,
        notes=notes,
        timings={
            "dissect_s": round(dissected - started, 3),
            "rules_s": round(finished - dissected, 3),
        },
    )


def diagnose(seen: Observations, kb: KnowledgeBase) -> list[Diagnosis]:
    groups = {group.gid: group for group in seen.errors.values()}
    # Services enter the engine only when an error quotes them, either way round: the join
    # stays small whatever the capture's size.
    quoted = {(g.proto, g.q_src, g.q_dst, g.q_dport) for g in groups.values()}
    quoted |= {(g.proto, g.q_dst, g.q_src, port) for g in groups.values() for port in g.sports}
    services = {service.cid: service for key, service in seen.services.items() if key in quoted}
    facts = [service_fact(s) for s in services.values()] + [error_fact(g) for g in groups.values()]
    concluded = run_rules(facts)
    findings = [fact for fact in concluded if fact["kind"] == "finding"]
    evidence = [fact for fact in concluded if fact["kind"] == "evidence"]
    diagnoses = [
        _diagnosis(kb, finding, [e for e in evidence if e["fid"] == finding["fid"]],
                   groups[finding["fid"]], services)
        for finding in findings
    ]
    return sorted(
        diagnoses,
        key=lambda d: (-d.score, -SEVERITY_ORDER[d.severity], d.evidence[:1] or (0,)),
    )


def _diagnosis(
    kb: KnowledgeBase,
    finding: dict[str, Any],
    evidence: list[dict[str, Any]],
    group: ErrorGroup,
    services: dict[int, ServiceAttempts],
) -> Diagnosis:
    condition = kb.conditions[finding["condition"]]
    evidence.sort(key=lambda e: e["eid"])
    features: dict[str, Any] = {}
    for item in evidence:
        features.update(item["features"])
    terms = [item["term"] for item in evidence if item["term"]]
    score, score_terms = diagnosis_score(condition, terms, kb)
    frames = set(group.frames)
    for item in evidence:
        service = services.get(item["cid"])
        if service is not None:
            frames.update(service.request_frames)
            if features.get("replies_before"):
                frames.update(service.reply_frames)
    sport = next(iter(group.sports)) if len(group.sports) == 1 else None
    subject = Subject(
        src=group.q_src, dst=group.q_dst, proto=group.proto, sport=sport,
        dport=None if group.q_dport < 0 else group.q_dport,
    )
    details: dict[str, Any] = {"count": group.count, "first_time": round(group.first_time, 6)}
    if group.mtus:
        details["mtu"] = min(group.mtus)
    if group.gateways:
        details["gateway"] = sorted(group.gateways)[0]
    summary = condition.summary.format_map(_Fields(
        src=subject.src, dst=subject.dst, proto=subject.proto, sport=subject.sport,
        dport=subject.dport, reporter=group.sender, **details,
    ))
    trusted_sender = "sender-unexpected" not in terms
    return Diagnosis(
        condition=condition.id,
        title=condition.title,
        severity=condition.severity,
        score=score,
        terms=score_terms,
        summary=summary,
        subject=subject,
        reporter=group.sender,
        evidence=tuple(sorted(frames)),
        causes=ranked_causes(condition, features),
        remedies=condition.remedies,
        established=condition.proves if trusted_sender else (),
        details=details,
        rules=tuple(sorted({item["rule"] for item in evidence})),
    )


class _Fields(dict):
    """Summary templates never fail on a field this diagnosis lacks."""

    def __missing__(self, key: str) -> str:
        return "?"

    def __getitem__(self, key: str) -> Any:
        value = super().__getitem__(key) if key in self else self.__missing__(key)
        return "?" if value is None else value
