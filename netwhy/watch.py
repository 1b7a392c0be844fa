"""`netwhy watch`: live capture in, diagnoses out as they become certain, a report at the end.

Optionally a second dumpcap keeps the traffic in a ring buffer of pcapng files (`--write`), so
the evidence frames can be opened, and annotated, later. It captures with the same filter as
netwhy's own dumpcap, so that both number the frames alike (until one of them drops some).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TextIO

from netwhy import children
from netwhy.dissect import fields
from netwhy.dissect.live import Drops, Limits, LiveEnd, LiveFieldsCapture, check_live_end
from netwhy.dissect.livefilter import Budgets
from netwhy.dissect.tshark import tshark_path_and_version
from netwhy.errors import OutputFailed, TsharkMissing
from netwhy.expert.diagnosis import Diagnosis
from netwhy.expert.watch import Unjudged, Watch
from netwhy.kb import KnowledgeBase, load_knowledge_base
from netwhy.render import json_report, terminal
from netwhy.text import printable


def watch(
    interface: str, capture_filter: str | None, duration_s: float | None, output_format: str,
    write: Path | None, ring_files: int, ring_megabytes: int, out: TextIO = sys.stdout,
) -> int:
    """Returns the number of diagnoses in the final report."""
    tshark, version = tshark_path_and_version()
    dumpcap = shutil.which("dumpcap")  # what captures, for tshark and for the ring buffer
    if dumpcap is None:
        raise TsharkMissing("dumpcap not found: it comes with tshark (apt-get install tshark)")
    kb = load_knowledge_base()
    judge = Watch(kb)
    every_s = float(kb.live["judge_every_s"].value)
    limits = _limits(kb)
    status = _Status(interface) if sys.stderr.isatty() else None
    # With a ring to match, every frame it keeps reaches netwhy (the live filter drops bulk
    # TCP instead of the kernel), so that both number them alike.
    kernel_filter = capture_filter if write else fields.live_capture_filter(capture_filter)
    ring = _start_ring(dumpcap, interface, capture_filter, write, ring_files, ring_megabytes,
                       limits.buffer_mb)
    capture = LiveFieldsCapture(interface, kernel_filter, tshark, version, limits)
    dropping = _Dropping(status)

    def on_tick() -> float:
        started = time.monotonic()
        _tell(judge, capture, dropping)
        for diagnosis in judge.judge():
            if diagnosis.severity != "chat":
                _announce(diagnosis, judge.now(), output_format, out)
        taken = time.monotonic() - started
        if status is not None:
            status.show(judge)
        return max(every_s, 2 * taken)  # judging takes at most a third of a core

    ring_drops = Drops()
    try:
        end = capture.run(judge.add, on_tick, duration_s)
    finally:
        capture.close()
        if ring is not None:
            ring_drops = _stop(ring)
        if status is not None:
            status.clear()
    check_live_end(end, interface)
    _tell(judge, capture, dropping)
    report = judge.report(f"live capture on {interface}", str(version), end.packets, end.udp,
                          _unjudged(end, ring_drops), end.stalls)
    if output_format == "json":
        json_report.write(report, out)
    elif output_format == "jsonl":
        out.write(json.dumps({"event": "report", **json_report.as_dict(report)},
                             ensure_ascii=True) + "\n")
    else:
        out.write("\n")
        terminal.write(report, out, color=out.isatty())
    if write is not None:
        files = sorted(write.parent.glob(f"{write.stem}_*{write.suffix}"))
        names = ", ".join(printable(str(f)) for f in files) or "none"
        print(f"netwhy: traffic kept in {names} (frame numbers match netwhy's while the ring "
              "has not wrapped; `mergecap -w all.pcapng` them to annotate)", file=sys.stderr)
    out.flush()
    return len(report.diagnoses)


def _limits(kb: KnowledgeBase) -> Limits:
    live = {name: threshold.value for name, threshold in kb.live.items()}
    budgets = Budgets(per_sender=int(live["arp_per_sender_per_s"]),
                      bulk=int(live["arp_bulk_per_s"]), watched=int(live["arp_watched_per_s"]),
                      hosts=int(live["watched_hosts"]))
    return Limits(budgets, int(live["capture_buffer_mb"]), float(live["drain_s"]),
                  float(live["behind_s"]))


def _tell(judge: Watch, capture: LiveFieldsCapture, dropping: _Dropping) -> None:
    """Hand the watch what the live filter knows of the wire: gaps, lag, storms' rates."""
    live = capture.filter
    for gap in live.gaps():
        judge.lost(gap)
        if gap.protocol is None:
            dropping.say("behind", gap.reason)
    judge.lag_s = live.lag_s
    judge.wire_rates = {_mac(sender): rate for sender, rate in live.arp_peaks().items()}
    if live.shed:
        dropping.say("shed", f"ARP past {capture.limits.budgets.per_sender} a second from one "
                             f"sender or {capture.limits.budgets.bulk} in all is counted, not "
                             "dissected (kb/live.yaml); ICMP, and ARP about the hosts of the "
                             "IP traffic, are kept")


def _unjudged(end: LiveEnd, ring: Drops) -> Unjudged:
    return Unjudged(kernel=end.drops.kernel, interface=end.drops.interface,
                    dumpcap=end.drops.dumpcap, shed=end.shed, unread=end.unread,
                    ring=ring.kernel + ring.interface + ring.dumpcap, tapped=end.tapped)


def _mac(address: bytes) -> str:
    return ":".join(f"{byte:02x}" for byte in address)  # as tshark prints it


def _announce(diagnosis: Diagnosis, at_s: float, output_format: str, out: TextIO) -> None:
    if output_format == "jsonl":
        out.write(json.dumps({"event": "diagnosis", "at_s": round(at_s, 3),
                              **diagnosis.to_dict()}, ensure_ascii=True) + "\n")
    elif output_format == "text":
        frames = ", ".join(str(f) for f in diagnosis.evidence[:8])
        out.write(f"[{at_s:7.1f} s] [{diagnosis.severity}] {diagnosis.condition}  "
                  f"{printable(diagnosis.subject.describe())}: {printable(diagnosis.summary)} "
                  f"(frames {frames})\n")
    out.flush()


class _Status:
    """The running summary line, on a terminal's stderr only."""

    def __init__(self, interface: str):
        self.interface = interface
        self.started = time.monotonic()

    def show(self, judge: Watch) -> None:
        elapsed = time.monotonic() - self.started
        sys.stderr.write(f"\rwatching {printable(self.interface)}: {elapsed:.0f} s, "
                         f"{judge.facts_seen:,} packets of interest, "
                         f"{len(judge.reported)} diagnoses \x1b[K")
        sys.stderr.flush()

    def clear(self) -> None:
        sys.stderr.write("\r\x1b[K")
        sys.stderr.flush()


class _Dropping:
    """Says once on stderr, for each kind, that frames are being shed or may be lost."""

    def __init__(self, status: _Status | None):
        self.status = status
        self.said: set[str] = set()

    def say(self, kind: str, words: str) -> None:
        if kind in self.said:
            return
        self.said.add(kind)
        if self.status is not None:
            self.status.clear()
        print(f"netwhy: dropping: {printable(words)}", file=sys.stderr, flush=True)


def _start_ring(dumpcap: str, interface: str, capture_filter: str | None, write: Path | None,
                files: int, megabytes: int, buffer_mb: int) -> subprocess.Popen | None:
    if write is None:
        return None
    if not write.parent.is_dir():
        raise OutputFailed(f"{write.parent}: no such directory for --write")
    command = [dumpcap, "-q", "-i", interface, "-B", str(buffer_mb), "-w", str(write),
               "-b", f"filesize:{megabytes * 1000}", "-b", f"files:{files}"]
    if capture_filter:
        command += ["-f", capture_filter]
    # Its own session, bound to netwhy (children.popen): a Ctrl-C is netwhy's to handle, and
    # netwhy stops it last; its last words count what it dropped.
    return children.popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, errors="replace")


def _stop(process: subprocess.Popen) -> Drops:
    if process.poll() is None:
        process.terminate()
    try:
        _, said = process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        _, said = process.communicate()
    return Drops.said(said.splitlines())
