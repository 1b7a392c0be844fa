"""Judging live traffic: the observations, rules and knowledge base of a saved capture, over a
bounded history of facts, judged again every second or so.

A diagnosis is new when the rules first reach it: rules that conclude from an absence (no ARP
reply, no echo reply) wait for their reply window against the clock, so what is printed is what
the evidence already makes certain. The history is trimmed by age and by count (kb/live.yaml),
so memory stays flat over hours and through floods.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable

from netwhy.dissect.facts import Fact, UdpConversation
from netwhy.expert.analyze import diagnose, limit_notes
from netwhy.expert.conversations import conversations
from netwhy.expert.diagnosis import Diagnosis
from netwhy.expert.observations import Observations, observe
from netwhy.expert.report import Report
from netwhy.kb import KnowledgeBase

DiagnosisKey = tuple[str, str, str, str, int | None, str]


def key(diagnosis: Diagnosis) -> DiagnosisKey:
    s = diagnosis.subject
    return (diagnosis.condition, s.src, s.dst, s.proto, s.dport, diagnosis.reporter)


class Watch:
    """Facts in, new diagnoses out."""

    def __init__(self, kb: KnowledgeBase, clock=time.monotonic):
        self.kb, self.clock = kb, clock
        self.history_s = float(kb.live["history_s"].value)
        self.max_facts = int(kb.live["max_facts"].value)
        self.repeat_after_s = float(kb.live["repeat_after_s"].value)
        self.history: deque[Fact] = deque()
        self.facts_seen = 0
        self.forgotten = 0  # facts dropped for the count limit before their age
        self.judgements, self.judging_s = 0, 0.0
        self.reported: dict[DiagnosisKey, float] = {}  # when each was last printed
        self._zero: float | None = None  # the clock at capture time 0

    def add(self, facts: Iterable[Fact]) -> None:
        for fact in facts:
            if self._zero is None:
                self._zero = self.clock() - _time(fact)
            self.history.append(fact)
            self.facts_seen += 1
        while len(self.history) > self.max_facts:
            self.history.popleft()
            self.forgotten += 1

    def now(self) -> float:
        """Seconds since the capture's first packet, on the capture's own time axis."""
        return 0.0 if self._zero is None else self.clock() - self._zero

    def judge(self) -> list[Diagnosis]:
        """The diagnoses not printed yet (or printed longer ago than repeat_after_s)."""
        now = self.now()
        self._forget_before(now - self.history_s)
        if not self.history:
            return []
        started = time.perf_counter()
        diagnoses, _ = self._diagnosed(self.history, now)
        self.judgements += 1
        self.judging_s += time.perf_counter() - started
        fresh = [d for d in diagnoses
                 if now - self.reported.get(key(d), -self.repeat_after_s) >= self.repeat_after_s]
        for diagnosis in fresh:
            self.reported[key(diagnosis)] = now
        # Forget what was printed long ago, so the table stays as bounded as the history.
        self.reported = {k: t for k, t in self.reported.items()
                         if now - t < self.repeat_after_s}
        return fresh

    def report(self, source: str, tshark_version: str, packets: int,
               udp: Iterable[UdpConversation]) -> Report:
        """The final report over the history, with tshark's end-of-capture packet and UDP
        counts."""
        facts = [*self.history, *udp]
        diagnoses, seen = self._diagnosed(facts, self.now())
        notes = limit_notes(seen)
        if self.forgotten:
            notes.append(
                f"live history limit: {self.forgotten} of {self.facts_seen} facts were forgotten "
                f"early to stay within {self.max_facts} (kb/live.yaml); the report covers the "
                "most recent ones")
        return Report(
            capture=source, tshark_version=tshark_version, packets=packets,
            diagnoses=diagnoses, notes=notes, conversations=conversations(seen, diagnoses),
            timings={"watched_s": round(self.now(), 3), "facts": self.facts_seen,
                     "judged": self.judgements, "judging_s": round(self.judging_s, 3)},
        )

    def _diagnosed(self, facts: Iterable[Fact], now: float) -> tuple[list[Diagnosis],
                                                                      Observations]:
        seen = observe(facts, arp_window_s=self.kb.threshold("arp.storm", "window_s"))
        # Silence counts up to now, not to the last packet: an unanswered ARP request becomes
        # certain when its reply window passes, even if nothing else arrives.
        seen.end_time = max(seen.end_time, now)
        return diagnose(seen, self.kb), seen

    def _forget_before(self, cutoff: float) -> None:
        while self.history and _time(self.history[0]) < cutoff:
            self.history.popleft()


def _time(fact: Fact) -> float:
    return getattr(fact, "time", 0.0)
