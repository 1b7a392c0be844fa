"""The `--json` report: one object, stable keys (add freely, never rename or remove)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TextIO

from packaging.version import Version

from netwhy.expert.analyze import Report
from netwhy.render.text import printable


def as_dict(report: Report) -> dict[str, Any]:
    return {
        **_head(report),
        "diagnoses": [diagnosis.to_dict() for diagnosis in report.diagnoses],
        "conversations": [conversation.to_dict() for conversation in report.conversations],
    }


def _head(report: Report) -> dict[str, Any]:
    return {
        "capture": _name(report.capture),
        "tshark_version": report.tshark_version,
        "packets": report.packets,
        "truncated": report.truncated,
        "notes": report.notes,
        "timings": report.timings,
    }


def _name(path: str) -> str:
    """The capture's name as given; JSON escapes control characters without loss, but bytes
    that are not UTF-8 would make it invalid for strict parsers, so those are written out."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return printable(path)
    return path


def dumps(report: Report) -> str:
    return "".join(chunks(report))


def write(report: Report, out: TextIO) -> None:
    for chunk in chunks(report):
        out.write(chunk)


def chunks(report: Report) -> Iterator[str]:
    """The report, indented at the top, one line per diagnosis and conversation: readable,
    and written by json's C encoder (an indented dump is pure Python, seconds for a large
    report). Item by item, so that a large report is never whole in memory twice."""
    yield json.dumps(_head(report), indent=2, ensure_ascii=True)[:-2]  # without "\n}"
    lists = {"diagnoses": report.diagnoses, "conversations": report.conversations}
    for key, items in lists.items():
        if not items:
            yield f',\n  "{key}": []'
            continue
        yield f',\n  "{key}": [\n    '
        for index, item in enumerate(items):
            # ensure_ascii: any odd byte from a packet arrives escaped, never raw.
            yield (",\n    " if index else "") + json.dumps(item.to_dict(), ensure_ascii=True)
        yield "\n  ]"
    yield "\n}\n"


def lines(report: Report) -> Iterator[str]:
    """`--format jsonl`: one diagnosis per line, each carrying its capture, for pipelines."""
    for diagnosis in report.diagnoses:
        yield json.dumps({"capture": _name(report.capture), **diagnosis.to_dict()},
                         ensure_ascii=True)


def display_filter(report: Report) -> str:
    """A Wireshark display filter selecting every evidence frame of the report."""
    frames = sorted({frame for d in report.diagnoses for frame in d.evidence})
    if not frames:
        return "frame.number == 0"  # matches nothing: there is no evidence to jump to
    # Wireshark 4.0 wants commas between set members; older versions wanted spaces.
    separator = "," if Version(report.tshark_version) >= Version("4.0") else " "
    return "frame.number in {" + separator.join(str(frame) for frame in frames) + "}"
