"""`netwhy why`: conversations, their outcomes, and competing explanations for failures."""

from __future__ import annotations

import json

import pytest
from conftest import CAPTURES, explain_json, run_netwhy

from netwhy.errors import ExitCode

MIXED = CAPTURES / "mixed-failures.pcapng"
SERVER = "203.0.113.20"


def why(capture, *arguments: str) -> dict:
    result = run_netwhy("why", str(capture), *arguments, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def by_port(report: dict) -> dict[tuple[str, int | None], dict]:
    return {(v["subject"]["proto"], v["subject"]["dport"]): v for v in report["conversations"]}


@pytest.mark.parametrize(("capture", "proto", "port", "outcome", "condition", "cause"), [
    ("tcp-refused", "tcp", 2222, "refused", "tcp.refused", "not-listening"),
    ("silent-drop", "tcp", 8080, "silent", "conversation.silent", "filtered"),
    ("udp-service-stops", "udp", 7, "answered-then-failed", "icmp.unreachable.port",
     "service-stopped"),
    ("udp-closed-port", "udp", 9999, "icmp-error", "icmp.unreachable.port", "no-listener"),
    ("snmp-no-agent", "udp", 161, "icmp-error", "icmp.unreachable.port", "snmp-agent-missing"),
    ("host-down-behind-router", "tcp", 22, "icmp-error", "icmp.unreachable.host", "host-down"),
])
def test_failed_conversation_and_its_top_cause(capture, proto, port, outcome, condition, cause):
    conversation = by_port(why(CAPTURES / f"{capture}.pcapng"))[(proto, port)]
    assert conversation["outcome"] == outcome and conversation["failed"]
    best = conversation["diagnoses"][0]
    assert (best["condition"], best["causes"][0]["id"]) == (condition, cause)


def test_refused_connection_evidence() -> None:
    conversation = by_port(why(CAPTURES / "tcp-refused.pcapng"))[("tcp", 2222)]
    assert (conversation["first_frame"], conversation["last_frame"]) == (3, 4)
    assert conversation["diagnoses"][0]["evidence"] == [3, 4]


def test_silence_says_which_evidence_favours_which_cause() -> None:
    silent = by_port(why(CAPTURES / "silent-drop.pcapng"))[("tcp", 8080)]["diagnoses"][0]
    causes = {cause["id"]: cause for cause in silent["causes"]}
    assert causes["filtered"]["score"] > 0.8
    assert any(term["value"] < 1 for term in causes["host-down"]["terms"])  # against: it answers
    assert silent["severity"] == "warning" and silent["score"] < 0.6  # thin evidence, ranked low


def test_mixed_capture_every_failure_right_and_no_success_failed() -> None:
    report = why(MIXED)  # no target: the failed conversations, worst first
    found = by_port(report)
    assert set(found) == {("udp", 9999), ("tcp", 22), ("tcp", 2222), ("tcp", 8080)}
    assert found[("udp", 9999)]["diagnoses"][0]["condition"] == "icmp.unreachable.port"
    assert found[("tcp", 22)]["diagnoses"][0]["condition"] == "icmp.unreachable.host"
    assert found[("tcp", 2222)]["diagnoses"][0]["condition"] == "tcp.refused"
    assert found[("tcp", 8080)]["diagnoses"][0]["condition"] == "conversation.silent"
    scores = [max(d["score"] for d in v["diagnoses"]) for v in report["conversations"]]
    assert scores == sorted(scores, reverse=True)
    everything = by_port({"conversations": explain_json(MIXED)["conversations"]})
    assert everything[("tcp", 80)]["outcome"] == "completed"
    assert everything[("udp", 7)]["outcome"] == "completed"
    assert not everything[("tcp", 80)]["failed"] and not everything[("udp", 7)]["failed"]


@pytest.mark.parametrize(("target", "expected"), [
    (f"{SERVER}:80", {("tcp", 80)}),
    (f"{SERVER}:7/udp", {("udp", 7)}),
    (f"{SERVER}:7/tcp", set()),
    ("203.0.113.99", {("tcp", 22)}),
    ("udp.port == 9999", {("udp", 9999)}),
    ("tcp.flags.reset == 1", {("tcp", 2222)}),
])
def test_targets(target: str, expected: set) -> None:
    assert set(by_port(why(MIXED, target))) == expected


def test_text_report_shows_for_and_against() -> None:
    out = run_netwhy("why", str(MIXED), f"{SERVER}:8080").stdout
    assert "SILENT" in out and "for: the destination answers this client" in out
    assert "against: the destination answers this client otherwise" in out


def test_bad_display_filter_is_a_usage_error() -> None:
    result = run_netwhy("why", str(MIXED), "tcp.port ==")
    assert result.returncode == ExitCode.USAGE
    assert result.stderr.startswith("netwhy: not a valid display filter")
    assert len(result.stderr.strip().splitlines()) == 1


def test_clean_capture_has_no_failed_conversation() -> None:
    assert why(CAPTURES / "clean.pcapng")["conversations"] == []
    conversations = explain_json(CAPTURES / "clean.pcapng")["conversations"]
    assert conversations and not any(v["failed"] for v in conversations)
