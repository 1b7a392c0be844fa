"""README.md against the code it describes: the conditions it lists are the knowledge base's,
and its exit-status table is netwhy.errors.ExitCode."""

from __future__ import annotations

import re
from pathlib import Path

from netwhy.errors import ExitCode

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
CONDITIONS = {path.stem for path in (ROOT / "kb" / "conditions").glob("*.yaml")}
CONDITION_ID = re.compile(r"[a-z][a-z0-9-]*(?:\.[a-z0-9-]+)+")  # as kb/schema.json


def section(heading: str) -> str:
    """The text under ``heading`` (a whole line, e.g. "## Usage") up to the next heading of the
    same or a higher level."""
    level = heading.split(" ", 1)[0]
    start = README.index(f"\n{heading}\n") + len(heading) + 2
    following = re.compile(rf"^#{{1,{len(level)}}} ", re.M).search(README, start)
    return README[start:following.start() if following else len(README)]


def mentioned_ids(text: str) -> set[str]:
    """Condition ids in backquotes. `.host` after `icmp.unreachable.net` abbreviates
    `icmp.unreachable.host`: a leading dot replaces the last part of the latest full id."""
    ids: set[str] = set()
    parent = None
    for token in re.findall(r"`([^`]+)`", text):
        if token.startswith("."):
            assert parent is not None, f"{token} follows no full condition id"
            ids.add(parent + token)
        elif CONDITION_ID.fullmatch(token):
            ids.add(token)
            parent = token.rsplit(".", 1)[0]
    return ids


def test_mentioned_ids_expands_abbreviations() -> None:
    text = "`kb/x/` `icmp.unreachable.net`, `.host`; `arp.storm` `.proxy`"
    assert mentioned_ids(text) == {"icmp.unreachable.net", "icmp.unreachable.host",
                                   "arp.storm", "arp.proxy"}


def test_condition_count_is_the_knowledge_base_size() -> None:
    counted = re.search(r"\((\d+) today\)", section("## What netwhy diagnoses"))
    assert counted, "the section no longer says how many conditions there are"
    assert int(counted[1]) == len(CONDITIONS)


def test_every_condition_is_listed_and_nothing_else() -> None:
    listed = mentioned_ids(section("## What netwhy diagnoses"))
    assert sorted(CONDITIONS - listed) == [], "conditions the README does not mention"
    assert sorted(listed - CONDITIONS) == [], "ids the README mentions that are no condition"


def test_exit_status_table_is_exit_code() -> None:
    rows = re.findall(r"^\| (\d+) \| (.+?) \|$", section("### Exit status"), re.M)
    assert [int(code) for code, _ in rows] == [code.value for code in ExitCode]
    assert all(meaning.strip() for _, meaning in rows)
