"""What an analysis hands the renderers: the diagnoses and what the capture was."""

from __future__ import annotations

from dataclasses import dataclass, field

from netwhy.expert.conversations import Conversation
from netwhy.expert.diagnosis import Diagnosis


@dataclass
class Report:
    capture: str
    tshark_version: str
    packets: int
    diagnoses: list[Diagnosis]
    truncated: str | None = None
    notes: list[str] = field(default_factory=list)
    conversations: list[Conversation] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
