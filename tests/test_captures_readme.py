"""tests/captures/README.md against the folder and the lab: every capture has a row, every row a
capture, every capture a scenario in the lab's catalog, and each row's condition and ICMP code
are the ones its scenario promises (the code also read from the capture with tshark)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from conftest import CAPTURES

from netwhy.lab.catalog import SCENARIOS
from netwhy.lab.crafted import CRAFTED
from netwhy.lab.regenerate import icmp_errors

README = CAPTURES / "README.md"
FILES = sorted(path.name.removesuffix(".pcapng") for path in CAPTURES.glob("*.pcapng"))


@dataclass(frozen=True)
class Row:
    capture: str
    cells: dict[str, str]  # column heading -> cell text

    @property
    def scenario(self) -> str:
        # A second file of a scenario is SCENARIO.SUFFIX; scenario names have no dot.
        return self.capture.split(".", 1)[0]

    @property
    def conditions(self) -> set[str]:
        return set(re.findall(r"`([^`]+)`", self.cells["condition"]))


def rows() -> list[Row]:
    """Every row of every table whose first column is "capture"."""
    found = []
    lines = README.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if not line.startswith("| capture |"):
            continue
        header = [cell.strip() for cell in line.strip("|").split("|")]
        for row in lines[number + 2:]:  # past the |---| line
            if not row.startswith("|"):
                break
            cells = [cell.strip() for cell in row.strip("|").split("|")]
            assert len(cells) == len(header), f"{README.name}: a cell holds a '|': {row}"
            found.append(Row(cells[0].strip("`"), dict(zip(header, cells, strict=True))))
    return found


ROWS = rows()


def test_rows_are_the_captures() -> None:
    named = [row.capture for row in ROWS]
    assert len(named) == len(set(named)), "a capture has two rows"
    assert sorted(set(FILES) - set(named)) == [], "captures without a row"
    assert sorted(set(named) - set(FILES)) == [], "rows naming no capture"


def test_every_capture_has_a_scenario_and_every_scenario_a_capture() -> None:
    assert sorted({row.scenario for row in ROWS} - set(SCENARIOS)) == []
    assert sorted(set(SCENARIOS) - set(FILES)) == [], "scenarios whose capture is not committed"


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.capture)
def test_condition_column_is_the_scenarios(row: Row) -> None:
    promised = set(SCENARIOS[row.scenario].conditions)
    if row.capture == row.scenario:
        assert row.conditions == promised
    else:  # a scenario's second file shows part of it at most
        assert row.conditions <= promised


CODED = [row for row in ROWS if "code" in row.cells]


def test_the_scapy_table_is_lab_crafted() -> None:
    assert sorted(row.capture for row in CODED) == sorted(f"crafted-{s.name}" for s in CRAFTED)


@pytest.mark.parametrize("row", CODED, ids=lambda row: row.capture)
def test_code_column_is_the_scenarios_and_the_captures(row: Row) -> None:
    code = (3, int(row.cells["code"]))
    assert set(SCENARIOS[row.scenario].errors) == {code}
    assert icmp_errors(CAPTURES / f"{row.capture}.pcapng") == {code}
    spec = next(s for s in CRAFTED if f"crafted-{s.name}" == row.capture)
    assert f"{spec.proto}/{spec.dport}" in row.cells["request"]
