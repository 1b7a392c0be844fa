"""Scans made by the real nmap (lab/scan_scenarios.py) are one finding each: who scanned, what
kind of scan, how many targets, what answered; the refusals and unreachables the probes drew
are folded into it, and a failure that is not part of the scan is still reported."""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import CAPTURES, explain_json, run_netwhy

from netwhy.dissect.facts import IcmpMessage, TcpControl
from netwhy.expert.analyze import diagnose
from netwhy.expert.observations import ErrorGroup, Observations, observe
from netwhy.expert.rules.scans import MAX_SCAN_FRAMES
from netwhy.expert.scans import peak, scans
from netwhy.kb import load_knowledge_base

SCANNER = "192.0.2.10"
SERVER = "192.0.2.20"
# Findings a scan's probes draw, one per port or host, that the scan replaces.
PER_PROBE = {"tcp.refused", "conversation.silent", "icmp.unreachable.port",
             "icmp.unreachable.protocol", "icmp.unreachable.host", "icmp.echo.no-reply",
             "icmp.echo.ok", "arp.unanswered", "arp.storm"}


def diagnoses(capture: str) -> list[dict]:
    return explain_json(CAPTURES / f"{capture}.pcapng")["diagnoses"]


@pytest.mark.parametrize(
    ("capture", "condition", "dst", "proto", "counts", "answered", "frames"), [
        ("scan-syn", "scan.port", SERVER, "tcp",
         {"targets": 100, "open": 2, "closed": 88, "filtered": 10}, "22, 80", MAX_SCAN_FRAMES),
        # tshark 4.0 starts no UDP conversation for nmap's empty probes (no udp.stream), so
        # only the answers are evidence; 4.4 gives the probes too.
        ("scan-udp", "scan.port", SERVER, "udp",
         {"targets": 30, "open": 1, "closed": 29, "filtered": 0}, "7", (31, 60)),
        ("udp-port-sweep", "scan.port", SERVER, "udp",
         {"targets": 30, "open": 0, "closed": 30}, "none", 60),
        ("scan-protocol", "scan.protocol", SERVER, "ip",
         {"closed": 251, "targets": 253}, "icmp, udp", MAX_SCAN_FRAMES),
        ("scan-arp-sweep", "scan.sweep", "192.0.2.0, 192.0.2.1, ..., 192.0.2.255 (255 addresses)",
         "arp", {"targets": 255, "live": 2, "silent": 253}, "192.0.2.20, 192.0.2.30",
         MAX_SCAN_FRAMES),
        ("scan-ping-sweep", "scan.sweep",
         "203.0.113.0, 203.0.113.1, ..., 203.0.113.63 (64 addresses)", "icmp",
         {"targets": 64, "live": 2, "unreachable": 62, "silent": 0},
         "203.0.113.1, 203.0.113.20", MAX_SCAN_FRAMES),
    ])
def test_a_scan_is_one_finding(capture, condition, dst, proto, counts, answered, frames) -> None:
    found = diagnoses(capture)
    scan = found[0]
    assert scan["condition"] == condition and scan["severity"] == "warning"
    assert (scan["subject"]["src"], scan["subject"]["dst"], scan["subject"]["proto"]) == \
        (SCANNER, dst, proto)
    assert {name: scan["details"][name] for name in counts} == counts
    assert scan["details"]["answered"] == answered
    allowed = frames if isinstance(frames, tuple) else (frames,)
    assert len(scan["evidence"]) in allowed
    assert scan["details"]["frames_total"] >= len(scan["evidence"])
    assert [d["condition"] for d in found if d["condition"] == condition] == [condition]
    # Nothing the scanner's probes drew is reported again on its own.
    assert [d for d in found[1:] if d["subject"]["src"] == SCANNER
            and d["condition"] in PER_PROBE] == []


def test_another_clients_refusal_on_the_scanned_server_is_still_reported() -> None:
    found = {d["condition"]: d for d in diagnoses("scan-syn")}
    refused = found["tcp.refused"]
    assert (refused["subject"]["src"], refused["subject"]["dst"], refused["subject"]["dport"]) \
        == ("192.0.2.11", SERVER, 2222)
    assert refused["evidence"] == [3, 4]


def test_a_kernels_sweep_of_absent_neighbours_stays_an_arp_storm() -> None:
    # Three requests for every address: the station's own kernel, not a scanner's ARP.
    assert [d["condition"] for d in diagnoses("arp-storm")][:1] == ["arp.storm"]


@pytest.mark.parametrize(("capture", "target", "condition"), [
    ("scan-syn", f"{SERVER}:5", "scan.port"),
    ("scan-syn", f"{SERVER}:22", "scan.port"),
    ("scan-ping-sweep", "203.0.113.5", "scan.sweep"),
])
def test_why_says_a_scanned_target_is_part_of_a_scan(capture, target, condition) -> None:
    result = run_netwhy("why", str(CAPTURES / f"{capture}.pcapng"), target)
    assert result.returncode == 0, result.stderr
    assert f"part of a scan by {SCANNER} ({condition})" in result.stdout


def test_why_about_the_other_client_names_no_scan() -> None:
    result = run_netwhy("why", str(CAPTURES / "scan-syn.pcapng"), f"{SERVER}:2222")
    assert result.returncode == 0, result.stderr
    assert "REFUSED" in result.stdout and "part of a scan" not in result.stdout


def test_failed_targets_count_within_the_window_only() -> None:
    # Zeek's five minutes: twenty failures spread over an hour are a client's, not a scan.
    assert peak([0.0, 1.0, 2.0, 400.0, 401.0], 300.0) == 3
    assert peak([minute * 180.0 for minute in range(20)], 300.0) == 2
    assert peak([], 300.0) == 0


def syn_scan(hosts: int, ports: int) -> list[TcpControl]:
    """A SYN scan of `ports` ports on each of `hosts` hosts behind a router, every port
    refused: a SYN and its reset each."""
    segments = []
    for n in range(hosts * ports):
        host, port = f"203.0.113.{n // ports + 1}", 1 + n % ports
        time = n * 1e-3
        segments += [TcpControl(2 * n + 1, time, SCANNER, host, 40000, port, True, False, False),
                     TcpControl(2 * n + 2, time + 1e-4, host, SCANNER, port, 40000, False, True,
                                True)]
    return segments


def test_a_scan_of_many_ports_on_many_hosts_is_one_finding_per_host() -> None:
    # Each port is also "swept" across the hosts; the port scans of those hosts report it.
    found = diagnose(observe(syn_scan(hosts=30, ports=20)), load_knowledge_base())
    assert sorted({d.condition for d in found}) == ["scan.port"]
    assert len(found) == 30 and {d.details["closed"] for d in found} == {20}


def test_one_port_across_many_hosts_is_a_sweep() -> None:
    found = diagnose(observe(syn_scan(hosts=30, ports=1)), load_knowledge_base())
    assert [d.condition for d in found] == ["scan.sweep"]
    assert found[0].subject.dport == 1 and found[0].details["closed"] == 30
    assert found[0].details["method"] == "TCP to port 1"


def pings(hosts: int, rounds: int) -> list[IcmpMessage]:
    """Echo requests to `hosts` absent hosts behind a router, `rounds` times each."""
    return [IcmpMessage(n + 1, n * 0.1, SCANNER, f"203.0.113.{n % hosts + 1}", 64, 8, 0,
                        ident=1, seq=n) for n in range(hosts * rounds)]


def test_a_monitor_pinging_its_devices_again_and_again_is_no_sweep() -> None:
    kb = load_knowledge_base()
    assert [d.condition for d in diagnose(observe(pings(30, 2)), kb)] == ["scan.sweep"]
    monitored = {d.condition for d in diagnose(observe(pings(30, 6)), kb)}
    assert monitored == {"icmp.echo.no-reply"}


def test_a_long_traceroute_is_no_port_scan() -> None:
    """45 UDP probes to successive ports of one host: 42 expire on the way (time exceeded from
    the routers), the last 3 reach it and are refused. Only failures count, and an expired
    probe is none."""
    seen = Observations()
    for n in range(45):
        port, router = 33434 + n, f"198.51.100.{n // 3 + 1}"
        service = seen.service(("udp", SCANNER, SERVER, port))
        service.request(2 * n + 1, n * 0.01)
        expired = n < 42
        group = ErrorGroup(n, 11 if expired else 3, 0 if expired else 3,
                           router if expired else SERVER, SCANNER, "udp", SCANNER, SERVER, port,
                           n * 0.01 + 0.001)
        group.count, group.frames = 1, [2 * n + 2]
        seen.errors[(n,)] = group
    assert [len(scan.failed_times()) for scan in scans(seen)] == [3]
    found = diagnose(seen, load_knowledge_base())
    assert "scan.port" not in {d.condition for d in found}


def test_a_client_retrying_many_hosts_through_an_outage_is_no_sweep() -> None:
    # Every connection to 30 servers re-sends its SYN after 1, 3 and 7 s, unanswered.
    syns = [TcpControl(0, host * 0.01 + delay, SCANNER, f"203.0.113.{host + 1}", 40000 + host,
                       443, True, False, False)
            for host in range(30) for delay in (0.0, 1.0, 3.0, 7.0)]
    syns = [replace(syn, frame=n + 1) for n, syn in enumerate(sorted(syns, key=lambda s: s.time))]
    found = {d.condition for d in diagnose(observe(syns), load_knowledge_base())}
    assert "scan.sweep" not in found and "conversation.silent" in found
