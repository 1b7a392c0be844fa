"""The `--json` report: one object, stable keys (add freely, never rename or remove)."""

from __future__ import annotations

import json
from typing import Any

from netwhy.expert.analyze import Report


def as_dict(report: Report) -> dict[str, Any]:
    return {
        "capture": report.capture,
        "tshark_version": report.tshark_version,
        "packets": report.packets,
        "truncated": report.truncated,
        "notes": report.notes,
        "timings": report.timings,
        "diagnoses": [diagnosis.to_dict() for diagnosis in report.diagnoses],
    }


def dumps(report: Report) -> str:
    # ensure_ascii: any odd byte from a packet arrives escaped, never raw.
    return json.dumps(as_dict(report), indent=2, ensure_ascii=True)
