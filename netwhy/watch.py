"""`netwhy watch`: live capture in, diagnoses out as they become certain, a report at the end.

Optionally a second dumpcap keeps the traffic in a ring buffer of pcapng files (`--write`), so
the evidence frames can be opened, and annotated, later.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TextIO

from netwhy.dissect.live import LiveFieldsCapture, check_live_end
from netwhy.dissect.tshark import tshark_path_and_version
from netwhy.errors import OutputFailed, TsharkMissing
from netwhy.expert.diagnosis import Diagnosis
from netwhy.expert.watch import Watch
from netwhy.kb import load_knowledge_base
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
    status = _Status(interface) if sys.stderr.isatty() else None
    ring = _start_ring(dumpcap, interface, capture_filter, write, ring_files, ring_megabytes)
    capture = LiveFieldsCapture(interface, capture_filter, tshark, version)

    def on_tick() -> float:
        started = time.monotonic()
        for diagnosis in judge.judge():
            if diagnosis.severity != "chat":
                _announce(diagnosis, judge.now(), output_format, out)
        taken = time.monotonic() - started
        if status is not None:
            status.show(judge)
        return max(every_s, 2 * taken)  # judging takes at most a third of a core

    try:
        end = capture.run(judge.add, on_tick, duration_s)
    finally:
        capture.close()
        if ring is not None:
            _stop(ring)
        if status is not None:
            status.clear()
    check_live_end(end, interface)
    report = judge.report(f"live capture on {interface}", str(version), end.packets, end.udp)
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


def _start_ring(dumpcap: str, interface: str, capture_filter: str | None, write: Path | None,
                files: int, megabytes: int) -> subprocess.Popen | None:
    if write is None:
        return None
    if not write.parent.is_dir():
        raise OutputFailed(f"{write.parent}: no such directory for --write")
    command = [dumpcap, "-q", "-i", interface, "-w", str(write),
               "-b", f"filesize:{megabytes * 1000}", "-b", f"files:{files}"]
    if capture_filter:
        command += ["-f", capture_filter]
    # Its own session: a Ctrl-C is netwhy's to handle, and netwhy stops it last.
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
