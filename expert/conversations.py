"""Every conversation attempt in the capture, its outcome, and the diagnoses that explain it."""

from __future__ import annotations

from collections import defaultdict

from netwhy.expert.diagnosis import Diagnosis, Subject
from netwhy.expert.observations import Observations, ServiceAttempts
from netwhy.expert.report import Conversation


def conversations(seen: Observations, diagnoses: list[Diagnosis]) -> list[Conversation]:
    by_client: dict[str, list[Diagnosis]] = defaultdict(list)
    for diagnosis in diagnoses:
        by_client[diagnosis.subject.src].append(diagnosis)
    found = [_conversation(service, by_client[service.src]) for service in seen.services.values()]
    return sorted(found, key=lambda v: (not v.failed, -v.worst_score, v.frames[:1] or (0,)))


def explains(diagnosis: Diagnosis, service: ServiceAttempts) -> bool:
    """A diagnosis is about this conversation when client, server, protocol and port fit; a
    host-wide diagnosis (no port) fits every port on that host."""
    subject = diagnosis.subject
    return (
        service.dst in subject.dsts
        and (not subject.protos or service.proto in subject.protos)
        and (subject.dport is None or subject.dport == service.dport)
    )


def _conversation(service: ServiceAttempts, candidates: list[Diagnosis]) -> Conversation:
    tied = tuple(d for d in candidates if d.severity != "chat" and explains(d, service))
    subject = Subject(service.src, (service.dst,), (service.proto,),
                      dport=None if service.dport < 0 else service.dport)
    frames = {*service.request_frames, *service.reply_frames}
    for diagnosis in tied:  # the errors about this very port belong to its story
        if diagnosis.subject.dport is not None:
            frames.update(diagnosis.evidence)
    frames = tuple(sorted(frames))
    return Conversation(subject, _outcome(service, tied), service.attempts, service.replies,
                        frames, tied)


_SILENCES = frozenset({"conversation.silent", "icmp.echo.no-reply", "icmp6.echo.no-reply"})


def _outcome(service: ServiceAttempts, tied: tuple[Diagnosis, ...]) -> str:
    conditions = {d.condition for d in tied}
    explicit = {c for c in conditions if c.startswith(("icmp.", "icmp6."))
                and c not in _SILENCES}
    if service.replies:
        if explicit or "tcp.refused" in conditions:
            return "answered-then-failed"
        # Data stopped getting through (and the sender did not find a size that passes).
        if any(d.condition == "tcp.pmtu-blackhole" and not d.details.get("recovered")
               for d in tied):
            return "answered-then-stalled"
        return "completed"
    if service.refused:
        return "refused"
    if explicit:
        return "icmp-error"
    if conditions & _SILENCES:
        return "silent"
    return "no-reply"  # one-way traffic, or the capture ended before a reply was due
