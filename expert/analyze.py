"""The pipeline: capture -> facts -> observations -> rules -> diagnoses."""

from __future__ import annotations

import gc
import importlib
import resource
import threading
import time
from pathlib import Path
from resource import RUSAGE_CHILDREN, RUSAGE_SELF
from typing import TYPE_CHECKING

from netwhy.dissect.capture import STREAM_PACKETS, CaptureReader
from netwhy.dissect.facts import CaptureSummary, Unanalysed
from netwhy.expert.conversations import conversations
from netwhy.expert.diagnosis import Diagnosis
from netwhy.expert.engine_facts import (
    MAX_ATTEMPT_FACTS,
    MAX_ECHO_FACTS,
    error_fact,
    observation_facts,
    service_fact,
)
from netwhy.expert.observations import ECHO_PROTOS, Observations, observe
from netwhy.expert.report import Report

if TYPE_CHECKING:
    from netwhy.kb import KnowledgeBase


def analyze(path: Path | str, prefilter: bool = True,
            stream_packets: int = STREAM_PACKETS, worker: bool | None = None) -> Report:
    """`prefilter=False`: tshark reads the whole file in one pass (the reference the tests
    compare the prefiltered streams with); `worker`: walk the file in a process of its own
    (None: for large files)."""
    # The knowledge base and the rules take a fifth of a second to load: they load while
    # capinfos and `tshark -v` look at the capture and at tshark, instead of before.
    loader = RulesLoader()
    loader.start()
    reader = CaptureReader(path, prefilter, stream_packets, worker)  # refuses bad input
    kb = loader.knowledge_base()
    started, own_cpu, tshark_cpu = time.perf_counter(), _cpu(RUSAGE_SELF), _cpu(RUSAGE_CHILDREN)
    seen = observe(reader.facts(), arp_window_s=kb.threshold("arp.storm", "window_s"))
    dissected, own_cpu = time.perf_counter(), _cpu(RUSAGE_SELF) - own_cpu
    tshark_cpu = _cpu(RUSAGE_CHILDREN) - tshark_cpu
    gc.freeze()  # the observations live to the end: garbage collections need not rescan them
    try:
        diagnoses = diagnose(seen, kb)
        attempts = conversations(seen, diagnoses)
    finally:
        gc.unfreeze()
    finished = time.perf_counter()
    summary = reader.summary
    assert summary is not None  # facts() ran to its end
    unread = unanalysed(summary.packets, summary.unanalysed,
                        kb.coverage["other_min_share"].value)
    return Report(
        capture=str(path),
        tshark_version=summary.tshark_version,
        packets=summary.packets,
        diagnoses=diagnoses,
        truncated=summary.truncated,
        notes=[note for _, note in unread] + limit_notes(seen) + _segments_note(summary, seen),
        unanalysed=sum(count for count, _ in unread),
        conversations=attempts,
        timings={
            "dissect_s": round(dissected - started, 3),
            # CPU seconds while dissecting: tshark, and netwhy walking the file (prefilter)
            # and turning rows into facts and observations. Over dissect_s, both cores.
            "tshark_cpu_s": round(tshark_cpu, 3),
            "facts_cpu_s": round(own_cpu, 3),
            "rules_s": round(finished - dissected, 3),
            "tshark_runs": reader.streams,
        },
    )


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def unanalysed(packets: int, found: Unanalysed, other_min_share: float) -> list[tuple[int, str]]:
    """The packets no rule could judge, by reason, each with its note: packets cut short
    always, other protocols from their share on (kb/coverage.yaml)."""
    reasons = [(found.cut, "were cut by the snap length before the headers netwhy reads")]
    if found.others >= other_min_share * packets:
        named = ", ".join(f"{name} {count}" for name, count in found.other[:_NAMED])
        more = ", ..." if len(found.other) > _NAMED else ""
        reasons.append((found.others, f"are protocols netwhy does not read: {named}{more}"))
    return [(count, f"not analysed: {count} of {packets} packets ({_share(count, packets)}) "
                    f"{reason}") for count, reason in reasons if count]


_NAMED = 3  # protocols a note names, most packets first


def _share(part: int, whole: int) -> str:
    """A percentage that says 100% only of all and 0% never: 99.7% is "99%", 0.2% "<1%"."""
    percent = part * 100 // whole
    return f"{percent}%" if percent else "<1%"


def _segments_note(summary: CaptureSummary, seen: Observations) -> list[str]:
    """A capture the prefilter could not walk had its TCP data read by nobody: say so where
    connections opened, whose data might have stalled unseen."""
    opened = sum(1 for s in seen.services.values() if s.proto == "tcp" and s.replies)
    if summary.segments_followed or not opened:
        return []
    connections = f"{opened} opened TCP connection{'s' if opened != 1 else ''}"
    return [f"TCP data not followed: the capture is compressed or damaged, so tshark read it "
            f"alone, and the data of its {connections} was not examined for path-MTU black "
            "holes (tcp.pmtu-blackhole)"]


def limit_notes(seen: Observations) -> list[str]:
    """What the state caps and engine budgets left out, said plainly."""
    notes = []
    untracked = seen.untracked_conversations + seen.arp.untracked + seen.ndp.untracked
    if untracked:
        notes.append(
            f"state cap reached: {untracked} conversations or ARP or Neighbor Discovery "
            "exchanges were counted but not tracked, so findings about them may be missing or "
            "lack their context"
        )
    unanswered = sum(1 for s in seen.services.values()
                     if s.proto not in ECHO_PROTOS and not s.replies)
    pinged = sum(1 for s in seen.services.values() if s.proto in ECHO_PROTOS)
    if unanswered > MAX_ATTEMPT_FACTS or pinged > MAX_ECHO_FACTS:
        notes.append(
            f"engine budget reached: of {unanswered} unanswered conversations and {pinged} "
            f"pinged hosts, the {MAX_ATTEMPT_FACTS} and {MAX_ECHO_FACTS} most tried were "
            "judged one by one; a scan this wide is better read from its summary"
        )
    return notes


class RulesLoader(threading.Thread):
    """Loads the knowledge base and defines the rules for it; `knowledge_base()` waits for it,
    and raises what loading raised (a knowledge-base entry that fails its schema, say).
    `diagnose` builds the engine itself too, for callers that have no capture to check first."""

    def __init__(self) -> None:
        super().__init__(name="netwhy-rules-loader")
        self._kb: KnowledgeBase | None = None
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            from netwhy.expert.engine import rules_engine
            from netwhy.kb import load_knowledge_base

            self._kb = load_knowledge_base()
            rules_engine(self._kb)
            importlib.import_module("netwhy.expert.assemble")
        except BaseException as error:  # handed to the caller
            self._error = error

    def knowledge_base(self) -> KnowledgeBase:
        self.join()
        if self._error is not None:
            raise self._error
        assert self._kb is not None
        return self._kb


def diagnose(seen: Observations, kb: KnowledgeBase) -> list[Diagnosis]:
    from netwhy.expert.assemble import assemble
    from netwhy.expert.engine import rules_engine
    from netwhy.expert.registry import rule_modules

    engine = rules_engine(kb)
    groups = list(seen.errors.values())
    # Services enter the engine only when an error quotes them, either way round: the join
    # stays small whatever the capture's size.
    quoted = {(g.proto, g.q_src, g.q_dst, g.q_dport) for g in groups}
    quoted |= {(g.proto, g.q_dst, g.q_src, port) for g in groups for port in g.sports}
    services = {service.cid: service for key, service in seen.services.items() if key in quoted}
    # So do the answered TCP connections between two hosts where one refused the other: a
    # refusal beside one of them may be no failure (a parallel port, a peer connecting back).
    refusals = {(s.src, s.dst) for s in seen.services.values() if s.refused and not s.replies}
    services.update({
        s.cid: s for s in seen.services.values() if s.proto == "tcp" and s.replies
        and ((s.src, s.dst) in refusals or (s.dst, s.src) in refusals)})
    # Order matters to rules that look for an absence: errors (and the findings they make)
    # are in the engine before the ARP and echo observations that consult them.
    facts = [service_fact(s) for s in services.values()]
    facts += [error_fact(g) for g in groups]
    facts += observation_facts(seen)
    for entry in rule_modules():  # facts a rule module derives for its own rules
        if entry.observation_facts is not None:
            facts += entry.observation_facts(seen, kb)
    return assemble(kb, engine.run(facts), services)
