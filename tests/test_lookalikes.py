"""Benign look-alikes of failures, on kernel-made captures and public ones: a late reply, a
client trying two ports, peers that connect back, a capture of one direction, a DHCP server's
conflict check, worm probes, thin evidence. Each keeps its condition, at the severity the
evidence earns, with the term that says why."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CAPTURES, PUBLIC, explain_json

SHARED = Path(__file__).resolve().parents[2] / "shared" / "captures" / "public"


def diagnoses(capture: Path) -> list[dict]:
    return explain_json(capture)["diagnoses"]


def terms(diagnosis: dict) -> set[str]:
    return {term["name"] for term in diagnosis["terms"]}


def serious(found: list[dict]) -> list[dict]:
    return [d for d in found if d["severity"] in ("error", "warning")]


def test_a_late_answer_without_its_request_is_a_late_reply() -> None:
    top, = diagnoses(CAPTURES / "late-dns-reply.pcapng")
    assert (top["condition"], top["severity"]) == ("icmp.unreachable.port", "warning")
    # The answer runs from the server's udp/53 to the client's closed ephemeral port.
    assert (top["subject"]["src"], top["subject"]["sport"]) == ("192.0.2.20", 53)
    assert top["subject"]["dst"] == "192.0.2.10" and top["evidence"] == [1, 2]
    assert "answer-unasked" in terms(top)
    assert top["causes"][0]["id"] == "asker-gave-up" and top["causes"][0]["score"] > 0.6


def test_a_late_answer_with_its_request_is_a_late_reply() -> None:
    top, = diagnoses(PUBLIC / "suricata-verify/flow-drop-iponly-02_input.pcap")
    assert (top["condition"], top["severity"]) == ("icmp.unreachable.port", "warning")
    assert "quotes-reply" in terms(top) and top["causes"][0]["id"] == "asker-gave-up"
    assert top["evidence"] == [1, 7]


def test_a_public_late_dns_answer_is_a_warning() -> None:
    top, = diagnoses(PUBLIC / "zeek/icmp-destunreach-udp.pcap")
    assert (top["condition"], top["severity"]) == ("icmp.unreachable.port", "warning")
    assert top["subject"]["sport"] == 53 and "answer-unasked" in terms(top)


def test_a_refusal_beside_a_port_that_answered_is_a_note() -> None:
    found = diagnoses(CAPTURES / "parallel-ports.pcapng")
    assert serious(found) == []
    refused, = (d for d in found if d["condition"] == "tcp.refused")
    assert refused["severity"] == "note" and refused["subject"]["dport"] == 139
    assert "other-port-answered" in terms(refused) and refused["evidence"][:2] == [3, 4]


def test_a_peer_that_connects_back_is_a_note() -> None:
    found = diagnoses(CAPTURES / "peer-connects-back.pcapng")
    assert serious(found) == []
    refused, = (d for d in found if d["condition"] == "tcp.refused")
    assert refused["severity"] == "note" and refused["subject"]["dport"] == 179
    assert "peer-connected-back" in terms(refused) and refused["evidence"][:2] == [3, 4]


def test_a_capture_of_one_direction_proves_no_silence() -> None:
    found = diagnoses(CAPTURES / "one-way-capture.pcapng")
    assert serious(found) == []
    silent, = (d for d in found if d["condition"] == "conversation.silent")
    assert "one-sided-capture" in terms(silent) and silent["severity"] == "note"
    # The SYN whose SYN-ACK it cannot see, and the first DNS query whose answer it cannot see.
    assert silent["evidence"] == [2, 8]


def test_a_dhcp_servers_conflict_check_is_a_note() -> None:
    # The DHCP server 10.40.2.3 pings each address before offering it; the router's host
    # unreachable means the address is free.
    found = diagnoses(PUBLIC / "tcpdump/dhcp-rfc4388.pcap")
    assert serious(found) == []
    checks = [d for d in found if d["condition"] == "icmp.unreachable.host"]
    assert {d["subject"]["dst"] for d in checks} == {"10.30.4.4", "10.50.4.4"}
    assert all("dhcp-conflict-check" in terms(d) and d["severity"] == "note" for d in checks)


def test_an_answer_to_a_multicast_query_is_no_request() -> None:
    # SSDP: the router answers an M-SEARCH sent to 239.255.255.250 from udp/1901 to the
    # asker's port; that answer is no request that went unanswered.
    found = diagnoses(PUBLIC / "suricata-verify/output-eve-ftp-data_input.pcap")
    assert not any(d["condition"] == "conversation.silent" for d in found)


def test_thin_evidence_cannot_be_an_error() -> None:
    # A lone net unreachable quoting an empty protocol-0 datagram: score 0.2, below an
    # error's floor of 0.4 and a warning's of 0.25.
    top, = diagnoses(PUBLIC / "zeek/icmp-destunreach-ip.pcap")
    assert top["condition"] == "icmp.unreachable.net" and top["score"] < 0.25
    assert top["severity"] == "note"


@pytest.mark.skipif(not (SHARED / "markofu-pcaps/evilprogram.pcap").exists(),
                    reason="the shared corpus is not beside this clone")
def test_worm_probes_from_many_sources_are_notes() -> None:
    # A home PC on the Internet, probed by some 30 sources on a dozen worm ports; the one
    # neighbour that kept coming back to tcp/80 stays an error.
    found = diagnoses(SHARED / "markofu-pcaps/evilprogram.pcap")
    probes = [d for d in found if "probed-by-many" in terms(d)]
    assert len(probes) >= 30 and all(d["severity"] == "note" for d in probes)
    left = serious(found)
    assert [(d["condition"], d["subject"]["src"], d["subject"]["dport"]) for d in left] == [
        ("tcp.refused", "24.6.76.78", 80)]


def test_a_firewall_reset_beside_a_working_port_stays_an_error() -> None:
    # Only ports of one service (445 and 139) excuse each other; the router's reset of
    # tcp/8081 while tcp/8080 works is a refusal. And two packets with IP ID 0 (the reset and
    # the SYN-ACK, TTL 64 then 63) are no datagram seen twice.
    found = diagnoses(CAPTURES / "reset-then-syn-ack.pcapng")
    assert [(d["condition"], d["severity"], d["subject"]["dport"]) for d in found] == [
        ("tcp.refused", "error", 8081)]
    assert found[0]["evidence"] == [3, 4] and "other-port-answered" not in terms(found[0])
