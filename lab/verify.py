"""`netwhy lab verify`: run every scenario, explain its capture, and check the expected
diagnosis comes first."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from netwhy.expert.analyze import analyze
from netwhy.lab.catalog import SCENARIOS, Scenario


@dataclass(frozen=True)
class Row:
    scenario: str
    expected: tuple[str, ...]
    top: str
    rank: int | None  # worst rank among the expected conditions; None if one is missing
    evidence: tuple[int, ...]  # of the first expected diagnosis
    false_alarms: int  # errors and warnings where none is expected (the clean scenario)
    notes: tuple[str, ...] = ()  # words the report's notes must hold
    notes_missing: tuple[str, ...] = ()  # of those, the words no note holds

    @property
    def passed(self) -> bool:
        if self.notes_missing:
            return False
        if not self.expected:
            return self.false_alarms == 0
        return self.rank is not None and self.top in self.expected


def verify_one(scenario: Scenario, workdir: Path) -> Row:
    written = scenario.run(workdir / f"{scenario.name}.pcapng")
    report = analyze(written[0])
    diagnoses = report.diagnoses
    conditions = [d.condition for d in diagnoses]
    ranks = [conditions.index(c) + 1 if c in conditions else None for c in scenario.conditions]
    first = next((d for d in diagnoses if d.condition in scenario.conditions), None)
    alarms = 0 if scenario.conditions else sum(
        d.severity in ("error", "warning") for d in diagnoses)
    return Row(
        scenario=scenario.name, expected=scenario.conditions,
        top=conditions[0] if conditions else "-",
        rank=None if None in ranks else max(ranks, default=0),
        evidence=first.evidence if first else (), false_alarms=alarms, notes=scenario.notes,
        notes_missing=tuple(words for words in scenario.notes
                            if not any(words in note for note in report.notes)),
    )


def verify(names: Iterable[str], out: TextIO) -> list[Row]:
    rows = []
    out.write(f"{'scenario':<30} {'expected':<44} {'top diagnosis':<32} rank  "
              f"{'evidence':<22} result\n")
    with tempfile.TemporaryDirectory(prefix="netwhy-lab-") as workdir:
        for name in names:
            row = verify_one(SCENARIOS[name], Path(workdir))
            rows.append(row)
            frames = ",".join(map(str, row.evidence[:6])) + ("..." if len(row.evidence) > 6 else "")
            expected = ", ".join(row.expected) or f"(none; false alarms: {row.false_alarms})"
            if row.notes:
                expected += f" + note {', '.join(map(repr, row.notes))}"
            rank = "-" if row.rank is None else str(row.rank)
            result = "pass" if row.passed else "FAIL"
            if row.notes_missing:
                result += f" (no note {', '.join(map(repr, row.notes_missing))})"
            out.write(f"{row.scenario:<30} {expected:<44} {row.top:<32} {rank:>4}  "
                      f"{frames:<22} {result}\n")
            out.flush()
    passed = sum(row.passed for row in rows)
    out.write(f"{passed} passed, {len(rows) - passed} failed\n")
    return rows
