"""What an analysis hands the renderers: the diagnoses and what the capture was."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from netwhy.expert.diagnosis import Diagnosis, Subject

# Outcomes that mean the client did not get what it asked for.
FAILED = frozenset({"refused", "icmp-error", "silent", "answered-then-failed",
                    "answered-then-stalled"})


@dataclass(frozen=True)
class Conversation:
    """One client's attempts at one service (TCP or UDP port) or host (ICMP echo)."""

    subject: Subject
    # completed, refused, icmp-error, silent, answered-then-failed, answered-then-stalled,
    # no-reply
    outcome: str
    attempts: int
    replies: int
    frames: tuple[int, ...]
    diagnoses: tuple[Diagnosis, ...]  # those that explain it, best first

    @property
    def failed(self) -> bool:
        return self.outcome in FAILED

    @property
    def worst_score(self) -> float:
        return max((d.score for d in self.diagnoses), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": {"src": self.subject.src, "dst": self.subject.dst,
                        "proto": self.subject.proto, "dport": self.subject.dport},
            "outcome": self.outcome, "failed": self.failed, "attempts": self.attempts,
            "replies": self.replies,
            "first_frame": self.frames[0] if self.frames else None,
            "last_frame": self.frames[-1] if self.frames else None,
            "diagnoses": [d.condition for d in self.diagnoses],
        }


@dataclass
class Report:
    capture: str
    tshark_version: str
    packets: int
    diagnoses: list[Diagnosis]
    truncated: str | None = None
    notes: list[str] = field(default_factory=list)
    unanalysed: int = 0  # packets no rule could judge, all in the notes (which say why)
    conversations: list[Conversation] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
