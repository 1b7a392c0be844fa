"""The `--json` report: one object, stable keys (add freely, never rename or remove)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TextIO

import orjson
from packaging.version import Version

from netwhy.expert.diagnosis import Diagnosis, Subject
from netwhy.expert.report import Report
from netwhy.text import printable


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
        "unanalysed": report.unanalysed,
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
    and quick to write (an indented dump is pure Python, seconds for a large report). Item
    by item, so that a large report is never whole in memory twice."""
    yield json.dumps(_head(report), indent=2, ensure_ascii=True)[:-2]  # without "\n}"
    lists = {"diagnoses": report.diagnoses, "conversations": report.conversations}
    for key, items in lists.items():
        if not items:
            yield f',\n  "{key}": []'
            continue
        yield f',\n  "{key}": [\n    '
        for index, item in enumerate(items):
            # A diagnosis's dataclasses are its JSON form; a conversation's is its to_dict().
            plain = item if isinstance(item, Diagnosis) else item.to_dict()
            yield (",\n    " if index else "") + item_line(plain)
        yield "\n  ]"
    yield "\n}\n"


def item_line(item: Diagnosis | dict[str, Any]) -> str:
    """One diagnosis (as `to_dict` gives it) or one plain dict, as a line of JSON. orjson
    writes it several times faster than json's encoder; an item that holds text beyond ASCII
    (an odd byte from a packet) goes through json instead, so that it arrives escaped."""
    try:
        line = orjson.dumps(item, default=_subject, option=orjson.OPT_NON_STR_KEYS)
        if line.isascii():
            return line.decode("ascii")
    except orjson.JSONEncodeError:
        pass  # text orjson refuses (a lone surrogate): json escapes it
    plain = item.to_dict() if isinstance(item, Diagnosis) else item
    return json.dumps(plain, ensure_ascii=True, separators=(",", ":"))


def _subject(value: Any) -> dict[str, Any]:
    """orjson's hook for the one class in a diagnosis that is not a dataclass."""
    if isinstance(value, Subject):
        return value.to_dict()
    raise TypeError


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
