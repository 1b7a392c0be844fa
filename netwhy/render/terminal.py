"""The terminal report: diagnoses best first, each readable on its own."""

from __future__ import annotations

from collections import Counter
from typing import TextIO

from netwhy.expert.diagnosis import Diagnosis
from netwhy.expert.report import Report
from netwhy.text import printable

_COLORS = {"error": "\033[1;31m", "warning": "\033[1;33m", "note": "\033[36m", "chat": "\033[2m"}
_RESET = "\033[0m"
CAUSES_SHOWN = 3


def write(report: Report, out: TextIO, explain_score: bool = False, color: bool = False) -> None:
    out.write(f"{printable(report.capture)}: {report.packets} packets "
              f"(tshark {report.tshark_version}): {_verdict(report)}\n")
    if report.truncated:
        out.write(f"WARNING: capture damaged ({printable(report.truncated)}); "
                  "analysed up to the damage, later packets are missing\n")
    for note in report.notes:
        out.write(f"NOTE: {printable(note)}\n")
    findings = [d for d in report.diagnoses if d.severity != "chat"]
    chat = [d for d in report.diagnoses if d.severity == "chat"]
    if not findings and report.unanalysed:
        out.write(
            "\nNothing in the packets netwhy analysed explains a failure. The packets it did not "
            "analyse (see the notes) may hold one, and a silent drop leaves no ICMP or ARP "
            "trace behind.\n"
        )
    elif not findings:
        out.write(
            "\nNothing in this capture explains a failure. That does not prove every "
            "conversation succeeded: a silent drop leaves no ICMP or ARP trace behind.\n"
        )
    for rank, diagnosis in enumerate(findings, start=1):
        out.write("\n")
        _write_diagnosis(out, rank, diagnosis, explain_score, color)
    if chat:
        # Normal operation (pings answered, a heeded redirect, a traceroute): one line each.
        out.write("\nalso seen, working as expected:\n")
        for diagnosis in chat:
            out.write(f"  {diagnosis.condition}: {printable(diagnosis.summary)} "
                      f"(frames {_frames(diagnosis.evidence, limit=6)})\n")


def _verdict(report: Report) -> str:
    """The findings counted by severity; or that there are none, and in how much traffic."""
    severities = Counter(d.severity for d in report.diagnoses)
    if severities:
        return ", ".join(f"{n} {s}" for s, n in severities.items())
    if not report.unanalysed:
        return "nothing to report"
    return (f"nothing to report about the {report.packets - report.unanalysed} packets netwhy "
            f"could analyse; {report.unanalysed} of {report.packets} packets were not analysed")


def _write_diagnosis(
    out: TextIO, rank: int, d: Diagnosis, explain_score: bool, color: bool
) -> None:
    severity = f"{_COLORS[d.severity]}{d.severity}{_RESET}" if color else d.severity
    out.write(f"{rank}. [{severity}] {d.condition}  score {d.score:.2f}  {printable(d.title)}\n")
    out.write(f"   {printable(d.summary)}\n")
    messages = d.details.get("count", 1)
    sport = f" (from port {d.subject.sport})" if d.subject.sport is not None else ""
    out.write(f"   subject:  {printable(d.subject.describe())}{sport}; reported by "
              f"{printable(d.reporter)}, {messages} message{'s' if messages != 1 else ''}\n")
    if "mtu" in d.details:
        out.write(f"   next-hop MTU: {d.details['mtu']}\n")
    out.write(f"   evidence: frames {_frames(d.evidence)}\n")
    for fact in d.established:
        out.write(f"   proven:   {printable(fact)}\n")
    out.write("   likely causes:\n")
    for index, cause in enumerate(d.causes[:CAUSES_SHOWN]):
        out.write(f"     {cause.score:4.0%}  {printable(cause.text)}\n")
        for term in cause.terms:
            out.write(f"             because {printable(term.reason)} (x{term.value:g})\n")
        if index == 0 or explain_score:
            for check in cause.checks:
                out.write(f"             check: {printable(check)}\n")
    if explain_score and len(d.causes) > CAUSES_SHOWN:
        for cause in d.causes[CAUSES_SHOWN:]:
            out.write(f"     {cause.score:4.0%}  {printable(cause.text)}\n")
    out.write("   what to do:\n")
    for remedy in d.remedies:
        out.write(f"     - {printable(remedy)}\n")
    if explain_score:
        out.write("   score:\n")
        for term in d.terms:
            out.write(f"     {term.value:+.2f}  {term.name}: {printable(term.reason)}\n")
        out.write(f"     = {d.score:.2f} (clamped to 0..1)\n")
        out.write(f"   rules: {', '.join(d.rules)}\n")


def _frames(frames: tuple[int, ...], limit: int = 20) -> str:
    shown = ", ".join(str(frame) for frame in frames[:limit])
    return shown + (f" and {len(frames) - limit} more" if len(frames) > limit else "")
