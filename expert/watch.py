"""Judging live traffic: the observations, rules and knowledge base of a saved capture, over a
bounded history of facts, judged again every second or so.

A diagnosis is new when the rules first reach it: rules that conclude from an absence (no ARP
reply, no echo reply) wait for their reply window against the clock, so what is printed is what
the evidence already makes certain. The history is trimmed by age and by count (kb/live.yaml),
so memory stays flat over hours and through floods; ARP is kept apart and trimmed on its own,
so that a storm shortens the memory of ARP only, never of the ICMP errors.

What the watch could not judge is said, and weighed: frames shed before tshark, dropped by the
kernel, or left unread at the end. An absence (a condition with a reply window) is never
concluded when frames after its first evidence frame may be missing, since the answer may be
among them: it is withheld, and the report's notes say which and why.
"""

from __future__ import annotations

import heapq
import time
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from netwhy.dissect.facts import ArpMessage, Fact, TcpStall, UdpConversation
from netwhy.dissect.livefilter import Gap
from netwhy.expert.analyze import diagnose, limit_notes
from netwhy.expert.conversations import conversations
from netwhy.expert.diagnosis import Diagnosis
from netwhy.expert.observations import Observations, observe
from netwhy.expert.report import Report
from netwhy.kb import KnowledgeBase

DiagnosisKey = tuple[str, str, str, str, int | None, str]
STORM = "arp.storm"
MAX_WITHHELD_NOTES = 5  # absences named one by one in the notes; the rest are counted


@dataclass(frozen=True)
class Unjudged:
    """Frames of the wire never judged, by why: the final report's notes."""

    kernel: int = 0  # dropped by the kernel: its buffer was full (dumpcap or netwhy behind)
    interface: int = 0  # dropped by the interface
    dumpcap: int = 0  # dropped or discarded by dumpcap itself
    shed: int = 0  # ARP frames past the budgets of kb/live.yaml, counted, never dissected
    unread: int = 0  # still waiting at the end, past kb/live.yaml's drain_s
    ring: int = 0  # dropped by the --write ring's own dumpcap
    tapped: bool = True  # tshark printed its end-of-capture counts (the UDP conversations)

    @property
    def dropped(self) -> int:
        return self.kernel + self.interface + self.dumpcap


class Watch:
    """Facts in, new diagnoses out."""

    def __init__(self, kb: KnowledgeBase, clock=time.monotonic):
        self.kb, self.clock = kb, clock
        self.history_s = float(kb.live["history_s"].value)
        self.max_facts = int(kb.live["max_facts"].value)
        self.max_arp_facts = int(kb.live["max_arp_facts"].value)
        self.repeat_after_s = float(kb.live["repeat_after_s"].value)
        self.settle_s = float(kb.live["settle_s"].value)
        self.history: deque[Fact] = deque()  # every fact but ARP
        self.arp: deque[ArpMessage] = deque()
        self.facts_seen = 0
        self.forgotten = 0  # facts dropped for the count limits before their age
        self.horizon: float | None = None  # facts other than ARP up to here are forgotten
        self.judgements, self.judging_s = 0, 0.0
        self.reported: dict[DiagnosisKey, float] = {}  # when each was last printed
        self.gaps: dict[str | None, Gap] = {}  # by protocol: the one reaching furthest
        self.lag_s = 0.0  # how far what is known of the wire trails the clock
        # ARP sender MAC -> frames a second on the wire, shed or not (None: still counting)
        self.wire_rates: dict[str, int | None] = {}
        self._absences = frozenset(cid for cid, condition in kb.conditions.items()
                                   if "reply_window_s" in condition.thresholds)
        self._zero: float | None = None  # the clock at capture time 0

    def add(self, facts: Iterable[Fact]) -> None:
        for fact in facts:
            if self._zero is None:
                self._zero = self.clock() - _time(fact)
            (self.arp if isinstance(fact, ArpMessage) else self.history).append(fact)
            self.facts_seen += 1
        self._trim(self.history, self.max_facts)
        self._trim(self.arp, self.max_arp_facts)

    def lost(self, gap: Gap) -> None:
        """Frames up to gap.last_frame may be missing: absences they could answer wait."""
        known = self.gaps.get(gap.protocol)
        if known is None or (known.last_frame is not None and (
                gap.last_frame is None or gap.last_frame > known.last_frame)):
            self.gaps[gap.protocol] = gap

    def now(self) -> float:
        """Seconds since the capture's first packet, on the capture's own time axis."""
        return 0.0 if self._zero is None else self.clock() - self._zero

    def judge(self) -> list[Diagnosis]:
        """The diagnoses not printed yet (or printed longer ago than repeat_after_s)."""
        now = self.now()
        self._forget_before(now - self.history_s)
        if not self.history and not self.arp:
            return []
        started = time.perf_counter()
        # Silence counts up to what is surely known of the wire: dumpcap hands packets over
        # in blocks, and a backlog delays them more.
        diagnoses, _ = self._diagnosed(self._facts(), now - max(self.settle_s, self.lag_s))
        self.judgements += 1
        self.judging_s += time.perf_counter() - started
        fresh = []
        for diagnosis in diagnoses:
            key = self._key(diagnosis)
            if now - self.reported.get(key, -self.repeat_after_s) < self.repeat_after_s:
                continue
            if self._gap(diagnosis) is not None or self._counting(diagnosis):
                continue  # an absence the missing frames may answer; a storm being counted
            fresh.append(diagnosis)
            self.reported[key] = now
        # Forget what was printed long ago, so the table stays as bounded as the history.
        self.reported = {k: t for k, t in self.reported.items()
                         if now - t < self.repeat_after_s}
        return fresh

    def report(self, source: str, tshark_version: str, packets: int,
               udp: Iterable[UdpConversation], unjudged: Unjudged = Unjudged(),
               stalls: Iterable[TcpStall] = ()) -> Report:
        """The final report over the history, with the end-of-capture UDP counts and TCP
        stalls, and what was not judged."""
        if unjudged.dropped:
            self.lost(Gap(None, None, f"{unjudged.dropped:,} frames were dropped before "
                                      "netwhy saw them, at times unknown"))
        if unjudged.unread:
            self.lost(Gap(None, None, f"the last {unjudged.unread:,} frames were left unread"))
        udp = list(udp) if unjudged.tapped else []
        judged = [c for c in udp if self.horizon is None or c.start >= self.horizon]
        diagnoses, seen = self._diagnosed([*self._facts(), *judged, *stalls], self.now())
        concluded = [d for d in diagnoses if self._gap(d) is None]
        withheld = [d for d in diagnoses if self._gap(d) is not None]
        notes = [*limit_notes(seen), *self._loss_notes(unjudged, len(udp) - len(judged)),
                 *self._withheld_notes(withheld)]
        if self.forgotten:
            notes.append(
                f"live history limit: {self.forgotten} of {self.facts_seen} facts were forgotten "
                f"early to stay within {self.max_facts} ({self.max_arp_facts} for ARP; "
                "kb/live.yaml); the report covers the most recent ones")
        return Report(
            capture=source, tshark_version=tshark_version, packets=packets,
            diagnoses=concluded, notes=notes, conversations=conversations(seen, concluded),
            timings={"watched_s": round(self.now(), 3), "facts": self.facts_seen,
                     "judged": self.judgements, "judging_s": round(self.judging_s, 3),
                     "frames_dropped": unjudged.dropped, "frames_shed": unjudged.shed,
                     "frames_unread": unjudged.unread, "ring_dropped": unjudged.ring,
                     "absences_withheld": len(withheld)},
        )

    # --- judging ---------------------------------------------------------------------------

    def _facts(self) -> Iterator[Fact]:
        """Both histories, in frame order, as one capture would give them."""
        return heapq.merge(self.history, self.arp, key=_frame)

    def _diagnosed(self, facts: Iterable[Fact], known_s: float) -> tuple[list[Diagnosis],
                                                                          Observations]:
        seen = observe(facts, arp_window_s=self.kb.threshold("arp.storm", "window_s"))
        # Silence counts up to what is known of the wire, not to the last packet: an
        # unanswered ARP request becomes certain when its reply window passes, even if
        # nothing else arrives.
        seen.end_time = max(seen.end_time, known_s)
        return [self._on_the_wire(d) for d in diagnose(seen, self.kb)], seen

    def _on_the_wire(self, diagnosis: Diagnosis) -> Diagnosis:
        """A storm's rate as the wire had it: past a sender's budget its frames were shed,
        and the rules measured only what they were given."""
        rate = self.wire_rates.get(diagnosis.details.get("mac", ""))  # None: still counting
        judged = diagnosis.details.get("rate")
        if diagnosis.condition != STORM or rate is None or judged is None or rate <= judged:
            return diagnosis
        details = {**diagnosis.details, "rate": float(rate), "judged_rate": judged}
        fields = defaultdict(lambda: "?", src=diagnosis.subject.src, dst=diagnosis.subject.dst,
                             reporter=diagnosis.reporter, **details)
        summary = self.kb.conditions[STORM].summary.format_map(fields)
        return replace(diagnosis, details=details, summary=summary)

    def _counting(self, diagnosis: Diagnosis) -> bool:
        """A storm whose first second on the wire is still being counted."""
        return (diagnosis.condition == STORM
                and diagnosis.details.get("mac") in self.wire_rates
                and self.wire_rates[diagnosis.details["mac"]] is None)

    def _gap(self, diagnosis: Diagnosis) -> Gap | None:
        """The gap that may hide the answer an absence waited for, if any."""
        if diagnosis.condition not in self._absences:
            return None
        first = min(diagnosis.evidence, default=None)
        for protocol, gap in self.gaps.items():
            if protocol is not None and protocol not in diagnosis.subject.protos:
                continue
            if gap.last_frame is None or first is None or gap.last_frame >= first:
                return gap
        return None

    def _key(self, diagnosis: Diagnosis) -> DiagnosisKey:
        s = diagnosis.subject
        # A station's storm stays one diagnosis while the count of its targets grows.
        dst = "" if self.kb.conditions[diagnosis.condition].scope == "station" else s.dst
        return (diagnosis.condition, s.src, dst, s.proto, s.dport, diagnosis.reporter)

    # --- memory ----------------------------------------------------------------------------

    def _trim(self, history: deque, limit: int) -> None:
        while len(history) > limit:
            self._forgot(history, history.popleft())
            self.forgotten += 1

    def _forget_before(self, cutoff: float) -> None:
        for history in (self.history, self.arp):
            while history and _time(history[0]) < cutoff:
                self._forgot(history, history.popleft())

    def _forgot(self, history: deque, fact: Fact) -> None:
        if history is self.history:
            self.horizon = max(self.horizon or 0.0, _time(fact))

    # --- notes -----------------------------------------------------------------------------

    def _loss_notes(self, unjudged: Unjudged, untimely_udp: int) -> list[str]:
        live = self.kb.live
        notes = []
        if unjudged.dropped:
            parts = [f"{count:,} by {who}" for count, who in (
                (unjudged.kernel, "the kernel (its capture buffer was full: dumpcap or netwhy "
                                  "fell behind)"),
                (unjudged.interface, "the interface"), (unjudged.dumpcap, "dumpcap")) if count]
            notes.append(f"dropped before netwhy saw them: {', '.join(parts)}; no absence (no "
                         "reply, no answer) is concluded, since the answers may be among them")
        if unjudged.shed:
            notes.append(
                f"shed: {unjudged.shed:,} ARP frames were counted, not dissected: past "
                f"{live['arp_per_sender_per_s'].value:.0f} a second from one sender or "
                f"{live['arp_bulk_per_s'].value:.0f} in all (kb/live.yaml); ICMP, and ARP about "
                "the hosts of the IP traffic, were kept")
        if unjudged.unread:
            notes.append(f"left unread: {unjudged.unread:,} frames still waited "
                         f"{live['drain_s'].value:g} s after the capture stopped")
        if not unjudged.tapped:
            notes.append("tshark was stopped before its end-of-capture counts: UDP "
                         "conversations were not judged")
        if untimely_udp:
            notes.append(f"{untimely_udp:,} UDP conversations began before the oldest facts "
                         "kept and were not judged (what answered them is forgotten)")
        if unjudged.ring:
            notes.append(f"--write's dumpcap dropped {unjudged.ring:,} frames: past the first, "
                         "the ring's frame numbers differ from netwhy's")
        return notes

    def _withheld_notes(self, withheld: list[Diagnosis]) -> list[str]:
        notes = []
        for diagnosis in withheld[:MAX_WITHHELD_NOTES]:
            gap = self._gap(diagnosis)
            notes.append(f"not concluded: {diagnosis.condition} "
                         f"{diagnosis.subject.describe()}: {gap.reason}, and the answer may "
                         "be among them")
        if len(withheld) > MAX_WITHHELD_NOTES:
            notes.append(f"not concluded: {len(withheld) - MAX_WITHHELD_NOTES} more absences, "
                         "for the same reasons")
        return notes


def _time(fact: Fact) -> float:
    return getattr(fact, "time", 0.0)


def _frame(fact: Fact) -> int:
    return getattr(fact, "frame", 0)
