"""The `--json` report: one object, stable keys (add freely, never rename or remove)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from packaging.version import Version

from netwhy.expert.analyze import Report
from netwhy.render.text import printable


def as_dict(report: Report) -> dict[str, Any]:
    return {
        "capture": _name(report.capture),
        "tshark_version": report.tshark_version,
        "packets": report.packets,
        "truncated": report.truncated,
        "notes": report.notes,
        "timings": report.timings,
        "diagnoses": [diagnosis.to_dict() for diagnosis in report.diagnoses],
        "conversations": [conversation.to_dict() for conversation in report.conversations],
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
    """Indented at the top, one line per diagnosis and conversation: readable, and written by
    json's C encoder (an indented dump is pure Python, seconds for a large report)."""
    data = as_dict(report)
    lists = {key: data.pop(key) for key in ("diagnoses", "conversations")}
    head = json.dumps(data, indent=2, ensure_ascii=True)[:-2]  # without the closing "\n}"
    parts = [head]
    for key, items in lists.items():
        # ensure_ascii: any odd byte from a packet arrives escaped, never raw.
        rows = ",\n    ".join(json.dumps(item, ensure_ascii=True) for item in items)
        parts.append(f'  "{key}": [\n    {rows}\n  ]' if items else f'  "{key}": []')
    return ",\n".join(parts) + "\n}"


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
