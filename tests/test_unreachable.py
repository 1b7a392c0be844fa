"""Every Destination Unreachable code, on captures made by the kernel (or scapy where no kernel
emits the code) and on public captures: the top diagnosis, its subject, reporter, evidence
frames and top cause."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from conftest import CAPTURES, PUBLIC, explain_json

from netwhy.lab import crafted

CLIENT, ROUTER = "192.0.2.10", "192.0.2.1"
LOCAL, REMOTE = "192.0.2.20", "203.0.113.20"


@dataclass(frozen=True)
class Expected:
    capture: str
    condition: str
    src: str
    dst: str
    proto: str
    dport: int | None
    reporter: str
    evidence: tuple[int, ...]
    top_cause: str


LAB = [
    Expected("udp-closed-port", "port", CLIENT, LOCAL, "udp", 9999, LOCAL, (3, 4, 6, 8),
             "no-listener"),
    Expected("snmp-no-agent", "port", CLIENT, LOCAL, "udp", 161, LOCAL, (3, 4, 6, 8),
             "snmp-agent-missing"),
    Expected("udp-service-stops", "port", CLIENT, LOCAL, "udp", 7, LOCAL, (3, 10, 12),
             "service-stopped"),
    Expected("protocol-unreachable", "protocol", CLIENT, LOCAL, "253", None, LOCAL, (4, 6),
             "tunnel-far-end-missing"),
    Expected("net-unreachable", "net", CLIENT, "198.51.100.7", "icmp+tcp+udp", None, ROUTER,
             (3, 4, 5, 6, 7, 8), "missing-route"),
    Expected("host-down-behind-router", "host", CLIENT, "203.0.113.99", "icmp+tcp", None, ROUTER,
             (3, 4, 5, 6, 7, 8, 9, 10), "host-down"),
    Expected("path-mtu-df", "frag-needed", CLIENT, REMOTE, "icmp+udp", None, ROUTER,
             (3, 4, 5, 6), "tunnel-overhead"),
    Expected("strict-source-route", "source-route", CLIENT, "198.51.100.7", "udp", 53, ROUTER,
             (3, 4, 6), "probe-or-attack"),
    Expected("admin-prohibited", "admin-prohibited", CLIENT, REMOTE, "tcp", 8080, ROUTER, (3, 4),
             "path-filter"),
    Expected("host-prohibited", "host-prohibited", CLIENT, REMOTE, "tcp", 8080, ROUTER, (3, 4),
             "path-firewall"),
    Expected("net-prohibited", "net-prohibited", CLIENT, REMOTE, "tcp", 8080, ROUTER, (3, 4),
             "allow-rule-missing"),
]


def top(capture) -> dict:
    report = explain_json(capture)
    assert report["diagnoses"], f"no diagnosis for {capture.name}"
    return report["diagnoses"][0]


@pytest.mark.parametrize("case", LAB, ids=lambda case: case.capture)
def test_kernel_capture(case: Expected) -> None:
    diagnosis = top(CAPTURES / f"{case.capture}.pcapng")
    assert diagnosis["condition"] == f"icmp.unreachable.{case.condition}"
    subject = diagnosis["subject"]
    assert (subject["src"], subject["dst"], subject["proto"], subject["dport"]) == (
        case.src, case.dst, case.proto, case.dport)
    assert diagnosis["reporter"] == case.reporter
    assert tuple(diagnosis["evidence"]) == case.evidence
    assert diagnosis["causes"][0]["id"] == case.top_cause


@pytest.mark.parametrize("spec", crafted.CRAFTED, ids=lambda spec: spec.name)
def test_crafted_capture(spec: crafted.Crafted) -> None:
    diagnosis = top(CAPTURES / f"crafted-{spec.name}.pcapng")
    assert diagnosis["condition"] == spec.condition
    subject = diagnosis["subject"]
    assert (subject["src"], subject["dst"], subject["proto"], subject["dport"]) == (
        crafted.CLIENT, crafted.SERVER, spec.proto, spec.dport)
    assert diagnosis["reporter"] == crafted.ROUTER
    # Frames: request, error, retry, error. A TCP retry is the same connection's SYN again,
    # so evidence; a UDP retry is only a datagram like any other, its error the evidence.
    evidence = (1, 2, 3, 4) if spec.proto == "tcp" else (1, 2, 4)
    assert tuple(diagnosis["evidence"]) == evidence


def test_port_unreachable_proves_path_and_host() -> None:
    diagnosis = top(CAPTURES / "udp-closed-port.pcapng")
    assert diagnosis["severity"] == "error"
    assert any("host is up" in fact for fact in diagnosis["established"])
    assert "sender-is-destination" in [term["name"] for term in diagnosis["terms"]]


def test_snmp_names_the_missing_agent_with_its_reason() -> None:
    cause = top(CAPTURES / "snmp-no-agent.pcapng")["causes"][0]
    assert cause["score"] > 0.5
    assert "SNMP" in cause["text"] and "161" in cause["terms"][0]["reason"]


def test_net_unreachable_lists_routing_mask_and_link_causes() -> None:
    diagnosis = top(CAPTURES / "net-unreachable.pcapng")
    causes = {cause["id"] for cause in diagnosis["causes"]}
    assert {"missing-route", "link-down", "wrong-mask"} <= causes
    assert diagnosis["details"]["count"] == 3  # one diagnosis for the host, three services


def test_frag_needed_names_the_mtu_and_black_hole_advice() -> None:
    diagnosis = top(CAPTURES / "path-mtu-df.pcapng")
    assert diagnosis["details"]["mtu"] == 1280
    assert "1280" in diagnosis["summary"]
    assert any("black hole" in remedy.lower() or "blackhole" in remedy.lower()
               for remedy in diagnosis["remedies"])


def test_every_score_is_its_terms_sum() -> None:
    for capture in CAPTURES.glob("*.pcapng"):
        for diagnosis in explain_json(capture)["diagnoses"]:
            total = sum(term["value"] for term in diagnosis["terms"])
            assert diagnosis["score"] == pytest.approx(min(1.0, max(0.0, total)), abs=1e-3)
            assert sum(c["score"] for c in diagnosis["causes"]) == pytest.approx(1.0, abs=0.01)


def test_clean_capture_has_no_error_or_warning() -> None:
    for capture in (CAPTURES / "clean.pcapng", PUBLIC / "zeek" / "5-pings.pcap",
                    PUBLIC / "zeek" / "arp-who-has.pcap"):
        report = explain_json(capture)
        assert report["packets"] > 0
        assert [d for d in report["diagnoses"] if d["severity"] in ("error", "warning")] == []


# Public captures nobody here made (BSD/MIT, see captures/public/NOTICE).
def test_public_frag_needed_pppoe() -> None:
    diagnosis = top(PUBLIC / "suricata-verify" / "bug-3616-smtp_input.pcap")
    assert diagnosis["condition"] == "icmp.unreachable.frag-needed"
    assert diagnosis["details"]["mtu"] == 1492 and diagnosis["reporter"] == "192.168.1.1"
    assert diagnosis["causes"][0]["id"] == "pppoe-link"
    assert tuple(diagnosis["evidence"]) == (3, 4, 26, 28, 29, 30)


def test_public_late_dns_answer_is_not_a_missing_service() -> None:
    diagnosis = top(PUBLIC / "suricata-verify" / "flow-drop-iponly-02_input.pcap")
    assert diagnosis["condition"] == "icmp.unreachable.port"
    assert (diagnosis["subject"]["sport"], diagnosis["subject"]["dport"]) == (53, 58186)
    assert diagnosis["causes"][0]["id"] == "asker-gave-up"
    assert tuple(diagnosis["evidence"]) == (1, 7)


def test_public_host_unreachable_from_last_router() -> None:
    report = explain_json(PUBLIC / "tcpdump" / "dhcp-rfc4388.pcap")
    hosts = {(d["condition"], d["subject"]["dst"], d["reporter"], d["details"]["count"])
             for d in report["diagnoses"]}
    assert hosts == {("icmp.unreachable.host", "10.30.4.4", "10.40.1.1", 2),
                     ("icmp.unreachable.host", "10.50.4.4", "10.40.1.1", 1)}


def test_public_portmapper_missing() -> None:
    diagnosis = top(PUBLIC / "zeek" / "conn-size.pcap")
    assert (diagnosis["condition"], diagnosis["subject"]["dport"]) == ("icmp.unreachable.port", 111)
    assert tuple(diagnosis["evidence"]) == (16, 17)
