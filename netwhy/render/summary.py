"""`--summary`: counts by severity and condition, laid out like `tshark -q -z expert`, so the
two views of one capture can be read side by side."""

from __future__ import annotations

from collections import Counter
from typing import TextIO

from netwhy.expert.diagnosis import SEVERITY_ORDER
from netwhy.expert.report import Report
from netwhy.text import printable

HEADINGS = {"error": "Errors", "warning": "Warnings", "note": "Notes", "chat": "Chats"}


def write(report: Report, out: TextIO) -> None:
    out.write(f"netwhy: {printable(report.capture)}: {report.packets} packets\n")
    for note in report.notes:
        out.write(f"NOTE: {printable(note)}\n")
    for severity in sorted(HEADINGS, key=SEVERITY_ORDER.__getitem__, reverse=True):
        found = [d for d in report.diagnoses if d.severity == severity]
        if not found:
            continue
        diagnoses = Counter(d.condition for d in found)
        messages = Counter()
        for diagnosis in found:
            messages[diagnosis.condition] += diagnosis.details.get("count", 1)
        titles = {d.condition: d.title for d in found}
        heading = f"{HEADINGS[severity]} ({len(found)})"
        out.write(f"\n{heading}\n{'=' * len(heading)}\n")
        out.write(f"{'Diagnoses':>11} {'Messages':>9}  {'Condition':<36} Title\n")
        for condition, count in diagnoses.most_common():
            out.write(f"{count:>11} {messages[condition]:>9}  {condition:<36} "
                      f"{printable(titles[condition])}\n")
