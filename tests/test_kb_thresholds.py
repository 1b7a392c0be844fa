"""Every threshold in kb/conditions/*.yaml is read by some code, and code reads no threshold the
knowledge base lacks (which would fail only when that rule first runs). Reads are found in the
source, not by running it: every call ``<anything>.threshold("<condition>", "<name>")``."""

from __future__ import annotations

import ast
from pathlib import Path

from netwhy.kb import load_knowledge_base

# Thresholds no code reads yet, each with its reason; test_pending_is_still_pending says when
# one is read or gone.
PENDING: set[tuple[str, str]] = set()

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("dissect", "expert", "kb", "netwhy", "lab")  # everything installed as netwhy.*

Read = tuple[str, str]  # (condition id, threshold name)


def threshold_calls(source: str, filename: str) -> tuple[dict[Read, list[str]], list[str]]:
    """The literal reads in ``source`` (each with its places, "file:line"), and the places of
    calls whose condition or name is not a string constant."""
    literal: dict[Read, list[str]] = {}
    other: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "threshold"):
            continue
        place = f"{filename}:{node.lineno}"
        arguments = node.args
        if (len(arguments) == 2 and not node.keywords
                and all(isinstance(a, ast.Constant) and isinstance(a.value, str)
                        for a in arguments)):
            literal.setdefault((arguments[0].value, arguments[1].value), []).append(place)
        else:
            other.append(place)
    return literal, other


def package_reads() -> tuple[dict[Read, list[str]], list[str]]:
    literal: dict[Read, list[str]] = {}
    other: list[str] = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found, unknown = threshold_calls(path.read_text(encoding="utf-8"),
                                             str(path.relative_to(ROOT)))
            for read, places in found.items():
                literal.setdefault(read, []).extend(places)
            other += unknown
    return literal, other


READS, NON_LITERAL = package_reads()
DEFINED = {(condition.id, name) for condition in load_knowledge_base().conditions.values()
           for name in condition.thresholds}


def test_finder_accepts_any_receiver_and_reports_the_rest() -> None:
    literal, other = threshold_calls(
        'kb.threshold("a.b", "x")\n'
        'load_knowledge_base().threshold("a.b", "y")\n'
        'self.kb.threshold("c.d", "x") * 1e6\n'
        'kb.threshold(condition, "z")\n'
        'kb.threshold("a.b", name="w")\n'
        'gc.set_threshold(50_000, 10, 10)\n',
        "example.py",
    )
    assert literal == {("a.b", "x"): ["example.py:1"], ("a.b", "y"): ["example.py:2"],
                       ("c.d", "x"): ["example.py:3"]}
    assert other == ["example.py:4", "example.py:5"]


def test_the_rules_read_thresholds() -> None:
    # Guards the walk itself: if it found nothing, every other test here would pass vacuously.
    assert any(place.startswith("expert/rules/") for places in READS.values() for place in places)


def test_every_read_is_literal() -> None:
    # A computed condition or name hides the read from this test; none exists, keep it so.
    assert NON_LITERAL == []


def test_every_read_threshold_is_in_the_knowledge_base() -> None:
    missing = {read: places for read, places in READS.items() if read not in DEFINED}
    assert missing == {}


def test_every_threshold_is_read() -> None:
    assert sorted(DEFINED - set(READS) - PENDING) == []


def test_pending_is_still_pending() -> None:
    assert sorted(PENDING & set(READS)) == [], "read now: remove from PENDING"
    assert sorted(PENDING - DEFINED) == [], "gone from the knowledge base: remove from PENDING"
