"""The command line as scripts and people use it."""

from __future__ import annotations

import json
from dataclasses import replace

from conftest import CAPTURES, PUBLIC, explain_json, run_netwhy

from netwhy.errors import ExitCode
from netwhy.expert.analyze import analyze
from netwhy.render.json_report import item_line

SNMP = CAPTURES / "snmp-no-agent.pcapng"
AFS = PUBLIC / "tcpdump" / "afs.pcap"


def test_json_shape_is_stable() -> None:
    report = explain_json(SNMP)
    assert {"capture", "tshark_version", "packets", "diagnoses", "truncated"} <= set(report)
    assert report["packets"] == 8 and report["truncated"] is None
    diagnosis = report["diagnoses"][0]
    assert {"condition", "severity", "score", "summary", "subject", "evidence", "causes",
            "remedies", "terms"} <= set(diagnosis)
    assert set(diagnosis["subject"]) == {"src", "dst", "proto", "sport", "dport"}
    assert {"text", "score"} <= set(diagnosis["causes"][0])
    assert 0 <= diagnosis["score"] <= 1


def test_diagnoses_are_sorted_by_score() -> None:
    scores = [d["score"] for d in explain_json(AFS)["diagnoses"]]
    assert len(scores) == 4 and scores == sorted(scores, reverse=True)


def test_host_and_port_answer_for_one_target() -> None:
    only = explain_json(AFS, "--host", "131.151.1.60")["diagnoses"]
    assert [d["subject"]["dport"] for d in only] == [4444]
    by_port = explain_json(AFS, "--port", "1799")["diagnoses"]
    assert len(by_port) == 3 and all(1799 in (d["subject"]["sport"], d["subject"]["dport"])
                                     for d in by_port)
    assert explain_json(AFS, "--host", "192.0.2.99")["diagnoses"] == []


def test_terminal_report_names_causes_evidence_and_remedies() -> None:
    result = run_netwhy("explain", str(SNMP))
    assert result.returncode == 0
    out = result.stdout
    assert "icmp.unreachable.port" in out and "evidence: frames 3, 4, 6, 8" in out
    assert "SNMP agent" in out and "what to do:" in out
    assert "score:" not in out  # the score terms only with --explain-score


def test_explain_score_shows_every_term() -> None:
    out = run_netwhy("explain", str(SNMP), "--explain-score").stdout
    assert "+0.60  base:" in out and "sender-is-destination" in out and "rules:" in out
    assert "x40" in out  # the likelihood ratio that put the SNMP cause first


def test_fail_on_severity() -> None:
    assert run_netwhy("explain", str(SNMP), "--fail-on", "error").returncode == ExitCode.FINDINGS
    clean = str(CAPTURES / "clean.pcapng")
    assert run_netwhy("explain", clean, "--fail-on", "note").returncode == ExitCode.OK
    # Answered pings are chat: findings, but nothing a script should fail on by default.
    assert run_netwhy("explain", clean, "--fail-on", "chat").returncode == ExitCode.FINDINGS


def test_bad_arguments_are_usage_errors() -> None:
    result = run_netwhy("explain", str(SNMP), "--host", "not-an-ip")
    assert result.returncode == ExitCode.USAGE and "not an IP address" in result.stderr


def test_help_documents_exit_statuses() -> None:
    out = run_netwhy("explain", "--help").stdout
    assert "exit status:" in out and "tshark missing" in out and "truncated" in out


def test_json_escapes_everything() -> None:
    text = run_netwhy("explain", str(SNMP), "--json").stdout
    assert text.isascii()
    json.loads(text)


def test_json_lines_hold_what_to_dict_gives() -> None:
    """orjson writes a diagnosis straight from its dataclasses: the same object as to_dict(),
    and text beyond ASCII (or text orjson refuses) comes out escaped, through json."""
    diagnoses = analyze(SNMP).diagnoses
    assert diagnoses
    for diagnosis in diagnoses:
        assert json.loads(item_line(diagnosis)) == diagnosis.to_dict()
    for odd in ("caf\u00e9", "lone \udcff"):
        diagnosis = replace(diagnoses[0], summary=odd)
        line = item_line(diagnosis)
        assert line.isascii() and json.loads(line) == diagnosis.to_dict()


def test_host_matches_any_of_a_diagnosis_destinations() -> None:
    # arp.proxy is about two addresses, arp.mask-misconfig about one station's view of both:
    # --host names one of them and keeps both (it once compared "10.1.2.20, 10.1.3.30").
    report = explain_json(CAPTURES / "proxy-arp-wide-mask.pcapng", "--host", "10.1.2.20")
    found = {d["condition"]: d for d in report["diagnoses"]}
    assert {"arp.proxy", "arp.mask-misconfig"} <= set(found)
    assert found["arp.proxy"]["subject"]["dst"] == "10.1.2.20, 10.1.3.30"
    assert found["arp.mask-misconfig"]["evidence"] == [7, 8, 13, 14]
