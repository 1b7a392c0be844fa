"""A ladder diagram in a terminal: a column per host, a line per frame, arrows between columns.

Text from the capture is escaped with `printable` and cut to its column, so nothing in it can
steer the terminal or push the columns apart.
"""

from __future__ import annotations

from netwhy.render.ladder import Ladder
from netwhy.text import printable

COLUMN_MIN = 16  # characters between two lanes: a short label and its arrow head
COLUMN_MAX = 30
PREFIX = 21  # "    time s  frame  " before the first lane
LAST_LANE = 16  # room for the last lane's address


def width_needed(lanes: int) -> int:
    """The narrowest terminal the ladder fits."""
    return PREFIX + max(lanes - 1, 0) * COLUMN_MIN + LAST_LANE


def lines(ladder: Ladder, width: int) -> list[str]:
    """The ladder in at most `width` columns; no lines when it does not fit."""
    count = len(ladder.lanes)
    if width < width_needed(count):
        return []
    room = width - PREFIX - LAST_LANE
    column = COLUMN_MAX if count < 2 else min(COLUMN_MAX, room // (count - 1))
    at = [PREFIX + index * column for index in range(count)]
    end = at[-1] + LAST_LANE

    def header(texts: list[str]) -> str:
        row = [" "] * end
        row[:PREFIX] = list(f"{texts[0]:<{PREFIX}}")
        for index, text in enumerate(texts[1:]):
            room = column - 1 if index < count - 1 else LAST_LANE
            _put(row, at[index], _cut(printable(text), room))
        return "".join(row).rstrip()

    out = [header(["    time s  frame", *(lane.address for lane in ladder.lanes)]),
           header(["", *(lane.role for lane in ladder.lanes)])]
    for step in ladder.steps:
        if step.kind == "fold":
            out.append(f"{'':>11}  {'...':>6}  {step.count} frames not drawn "
                       f"({step.frame}-{step.last}): {printable(step.label)}"[:width])
            continue
        row = [" "] * end
        for position in at:
            row[position] = "|"
        left, right = sorted((at[step.src], at[step.dst]))
        if step.kind == "missing":
            _arrow(row, left, right, step.src > step.dst, printable(step.label), dashed=True)
            prefix = f"{'':>11}  {'':>6}  "
        else:
            _arrow(row, left, right, step.src > step.dst, printable(step.label), dashed=False)
            prefix = f"{step.time:>11.6f}  {step.frame:>6}  "
        row[:PREFIX] = list(f"{prefix:<{PREFIX}}")
        out.append("".join(row).rstrip())
    return out


def _arrow(row: list[str], left: int, right: int, leftwards: bool, label: str,
           dashed: bool) -> None:
    if left == right:  # a frame a host sent to itself (or two hosts sharing the others lane)
        _put(row, left + 1, _cut(f"<{label}", LAST_LANE))
        return
    for position in range(left + 1, right):
        row[position] = " " if dashed and (position - left) % 2 == 1 else "-"
    if dashed:  # what never came: a cross where it would have arrived
        row[left + 1 if leftwards else right - 1] = "x"
    elif leftwards:
        row[left + 1] = "<"
    else:
        row[right - 1] = ">"
    room = right - left - 5
    if room >= 3:
        text = _cut(label, room)
        _put(row, left + 3, f" {text} "[: right - left - 3])


def _put(row: list[str], position: int, text: str) -> None:
    for offset, character in enumerate(text):
        if position + offset < len(row):
            row[position + offset] = character


def _cut(text: str, room: int) -> str:
    return text if len(text) <= room else text[: max(room - 1, 0)] + "…"
