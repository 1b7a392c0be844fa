"""The knowledge base: complete for Destination Unreachable, valid, and readable by the rules."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import CAPTURES

import netwhy.kb
from netwhy.errors import KnowledgeBaseError
from netwhy.expert import registry
from netwhy.expert.analyze import analyze
from netwhy.kb import load_knowledge_base
from netwhy.kb.loader import KB_DIR

UNREACHABLE_IDS = {
    0: "net", 1: "host", 2: "protocol", 3: "port", 4: "frag-needed", 5: "source-route",
    6: "net-unknown", 7: "host-unknown", 8: "source-isolated", 9: "net-prohibited",
    10: "host-prohibited", 11: "net-tos", 12: "host-tos", 13: "admin-prohibited",
    14: "precedence-violation", 15: "precedence-cutoff",
}
GLOSSARY = KB_DIR.parent.parent / "shared" / "GLOSSARY.md"


def test_every_destination_unreachable_code_has_its_entry() -> None:
    kb = load_knowledge_base()
    for code, suffix in UNREACHABLE_IDS.items():
        condition = kb.for_icmp(3, code)
        assert condition is not None and condition.id == f"icmp.unreachable.{suffix}"


def test_every_entry_is_reachable_from_a_rule() -> None:
    for condition in load_knowledge_base().conditions.values():
        assert registry.rules_for(condition.id, condition.icmp_type is not None), condition.id


def test_a_condition_no_rule_serves_is_refused() -> None:
    with pytest.raises(LookupError, match=r"no\.such\.condition"):
        registry.rules_for("no.such.condition", icmp_matched=False)


def test_every_registered_rule_serves_a_known_condition() -> None:
    conditions = set(load_knowledge_base().conditions) | {registry.ANY_ICMP_CONDITION}
    for rule in registry.all_rules():
        assert set(rule.conditions) <= conditions, rule.id


def test_cause_evidence_uses_features_the_rules_produce() -> None:
    # A `when` clause on a feature no rule module declares could never match.
    offered = registry.features()
    for condition in load_knowledge_base().conditions.values():
        for cause in condition.causes:
            for clause in cause.when:
                assert clause.feature in offered, (condition.id, cause.id, clause.feature)


def test_every_declared_feature_is_tested_by_some_cause() -> None:
    tested = {clause.feature for condition in load_knowledge_base().conditions.values()
              for cause in condition.causes for clause in cause.when}
    assert not set(registry.features()) - tested - UNTESTED_FEATURES


# Features rules attach that no cause's odds depend on today: the pointer's raw offset (causes
# test the field it names, `pointer_field`) and an echo's round trip (reported, not weighed).
UNTESTED_FEATURES = {"pointer", "rtt_ms"}


def test_the_evidence_terms_rules_score_are_those_the_kb_weighs() -> None:
    # A term a rule attaches without a weight would fail at run time; a weight no rule attaches
    # is dead data.
    assert registry.terms() == set(load_knowledge_base().evidence)


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
    def broken() -> None:
        raise KnowledgeBaseError("kb/conditions/x.yaml: causes[0].prior: 1.5 is too large")

    monkeypatch.setattr(netwhy.kb, "load_knowledge_base", broken)
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
