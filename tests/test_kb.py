"""The knowledge base: complete for Destination Unreachable, valid, and readable by the rules."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import CAPTURES
from netwhy.expert import engine  # noqa: F401  (registers every rule)
from netwhy.expert.analyze import RulesLoader, analyze
from netwhy.expert.registry import RULES, rules_for
from netwhy.kb import load_knowledge_base
from netwhy.kb.loader import KB_DIR

from netwhy.errors import KnowledgeBaseError

UNREACHABLE_IDS = {
    0: "net", 1: "host", 2: "protocol", 3: "port", 4: "frag-needed", 5: "source-route",
    6: "net-unknown", 7: "host-unknown", 8: "source-isolated", 9: "net-prohibited",
    10: "host-prohibited", 11: "net-tos", 12: "host-tos", 13: "admin-prohibited",
    14: "precedence-violation", 15: "precedence-cutoff",
}
# Features the rules attach to findings, as kb/README.md documents them for KB authors; a
# `when` clause on anything else could never match.
KNOWN_FEATURES = set(re.findall(r"(?m)^\| `(\w+)` \|", (KB_DIR / "README.md").read_text()))
GLOSSARY = KB_DIR.parent.parent / "shared" / "GLOSSARY.md"


def test_every_destination_unreachable_code_has_its_entry() -> None:
    kb = load_knowledge_base()
    for code, suffix in UNREACHABLE_IDS.items():
        condition = kb.for_icmp(3, code)
        assert condition is not None and condition.id == f"icmp.unreachable.{suffix}"


def test_every_entry_is_reachable_from_a_rule() -> None:
    for condition in load_knowledge_base().conditions.values():
        assert rules_for(condition.id), condition.id


def test_every_registered_rule_serves_a_known_condition() -> None:
    conditions = set(load_knowledge_base().conditions) | {"*"}
    for rule in RULES.values():
        assert set(rule.conditions) <= conditions, rule.id


def test_cause_evidence_uses_features_the_rules_produce() -> None:
    for condition in load_knowledge_base().conditions.values():
        for cause in condition.causes:
            for clause in cause.when:
                assert clause.feature in KNOWN_FEATURES, (condition.id, cause.id, clause.feature)


def test_invalid_entry_names_the_file_and_the_field(tmp_path: Path) -> None:
    shutil.copytree(KB_DIR, tmp_path / "kb", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    entry = tmp_path / "kb" / "conditions" / "icmp.unreachable.port.yaml"
    entry.write_text(entry.read_text().replace("prior: 0.45", "prior: 1.5"))
    with pytest.raises(KnowledgeBaseError) as error:
        load_knowledge_base.__wrapped__(tmp_path / "kb")
    assert "icmp.unreachable.port.yaml" in error.value.message
    assert "causes[0].prior" in error.value.message


def test_missing_required_field_is_reported(tmp_path: Path) -> None:
    shutil.copytree(KB_DIR, tmp_path / "kb", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    entry = tmp_path / "kb" / "conditions" / "icmp.unreachable.net.yaml"
    entry.write_text(re.sub(r"(?m)^remedies:.*?(?=^\w)", "", entry.read_text(), flags=re.S))
    expected = r"icmp\.unreachable\.net\.yaml.*'remedies' is a required"
    with pytest.raises(KnowledgeBaseError, match=expected):
        load_knowledge_base.__wrapped__(tmp_path / "kb")


def test_a_knowledge_base_that_fails_to_load_stops_the_analysis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # analyze() loads the rules while capinfos and tshark check the capture, in a thread: what
    # goes wrong there must reach the caller, as if loaded in line.
    (tmp_path / "broken_kb.py").write_text(
        "from netwhy.errors import KnowledgeBaseError\n"
        "raise KnowledgeBaseError('kb/conditions/x.yaml: causes[0].prior: 1.5 is too large')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(RulesLoader, "MODULES", ("broken_kb",))
    with pytest.raises(KnowledgeBaseError, match=r"x\.yaml"):
        analyze(CAPTURES / "udp-closed-port.pcapng")


@pytest.mark.skipif(not GLOSSARY.exists(), reason="../shared is not beside this clone")
def test_no_sentence_is_copied_from_the_glossary() -> None:
    """Facts carry over, sentences do not: no run of 8 words may match the glossary."""
    def words(text: str) -> list[str]:
        return re.findall(r"[a-z0-9']+", text.lower())

    glossary = words(GLOSSARY.read_text())
    shingles = {tuple(glossary[i : i + 8]) for i in range(len(glossary) - 7)}
    for path in (KB_DIR / "conditions").glob("*.yaml"):
        text = words(path.read_text())
        copied = [" ".join(text[i : i + 8]) for i in range(len(text) - 7)
                  if tuple(text[i : i + 8]) in shingles]
        assert not copied, (path.name, copied[:3])
