"""The public corpus, judged: every error and warning netwhy raises on a real capture nobody
here made is listed in corpus_verdicts.yaml with a verdict from reading its frames. A judged
false alarm that comes back as an error or warning fails; so does a new alarm nobody judged,
and a real failure that is no longer raised.

The captures are the copies in captures/public/ (their licences allow it) and, where the
shared corpus sits beside this clone, the rest of it; a clone without it tests the copies."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import PUBLIC, explain_json

SHARED = Path(__file__).resolve().parents[2] / "shared" / "captures" / "public"
VERDICTS = yaml.safe_load((Path(__file__).parent / "corpus_verdicts.yaml").read_text())
SERIOUS = ("error", "warning")


def located(name: str) -> Path | None:
    for root in (PUBLIC, SHARED):
        if (root / name).is_file():
            return root / name
    return None


def subject(diagnosis: dict) -> str:
    s = diagnosis["subject"]
    service = f"{s['proto']}/{s['dport']}" if s.get("dport") is not None else s["proto"]
    return f"{s['src']} -> {s['dst']} {service}"


@pytest.mark.parametrize("name", sorted(VERDICTS["captures"]))
def test_alarms_are_the_judged_ones(name: str) -> None:
    path = located(name)
    if path is None:
        pytest.skip(f"{name}: not in this clone, and the shared corpus is not beside it")
    judged = VERDICTS["captures"][name] or []
    raised = sorted((d["condition"], subject(d)) for d in explain_json(path)["diagnoses"]
                    if d["severity"] in SERIOUS)
    expected = sorted((v["condition"], v["subject"]) for v in judged if v["now"] in SERIOUS)
    assert raised == expected, f"{name}: raised {raised}, judged {expected}"


def test_no_false_alarm_is_raised() -> None:
    back = [(name, v["condition"], v["subject"]) for name, judged in VERDICTS["captures"].items()
            for v in judged or [] if v["verdict"] == "false-alarm" and v["now"] in SERIOUS]
    assert back == []


def test_every_verdict_says_why() -> None:
    for judged in VERDICTS["captures"].values():
        for v in judged or []:
            assert v["verdict"] in ("real", "false-alarm", "debatable") and v["why"].strip()
            assert v["now"] in ("error", "warning", "note", "chat", "gone")
