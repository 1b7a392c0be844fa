"""ICMPv6 (RFC 4443): each error and echo condition on its own lab capture (kernel-made where
Linux sends the message), with its subject, evidence frames, rank and likeliest cause; IPv6
conversations in `why` and `--host`; and a dual-stack capture diagnosed as one report."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from conftest import CAPTURES, explain_json, run_netwhy

CLIENT = "2001:db8:1::10"
LOCAL_SERVER = "2001:db8:1::20"  # on the client's link
SERVER = "2001:db8:2::20"  # behind the router
UNROUTED = "2001:db8:99::7"


def diagnoses(capture: str) -> list[dict]:
    return explain_json(CAPTURES / f"{capture}.pcapng")["diagnoses"]


@pytest.mark.parametrize(
    ("capture", "condition", "severity", "src", "dst", "evidence", "cause"), [
        ("ipv6-no-route", "icmp6.unreachable.no-route", "error", CLIENT, UNROUTED,
         (3, 4, 5, 6, 7, 8, 9, 10), "missing-route"),
        ("ipv6-admin-prohibited", "icmp6.unreachable.admin-prohibited", "error", CLIENT, SERVER,
         (3, 4, 5, 6), "path-filter"),
        # The client's only address is link-local: the router may not forward it off the link.
        ("ipv6-beyond-scope", "icmp6.unreachable.beyond-scope", "error", None, SERVER,
         (3, 4, 5, 6, 7, 8), "no-global-address"),
        # The router's three unanswered solicitations (4, 6, 8) belong to the same diagnosis.
        ("ipv6-address-unreachable", "icmp6.unreachable.address", "error", CLIENT,
         "2001:db8:2::99", (3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13), "host-down"),
        ("ipv6-port-unreachable", "icmp6.unreachable.port", "error", CLIENT, SERVER, (3, 4, 6),
         "no-listener"),
        ("ipv6-policy-fail", "icmp6.unreachable.policy-fail", "error", CLIENT, SERVER,
         (3, 4, 5, 6), None),
        ("ipv6-reject-route", "icmp6.unreachable.reject-route", "error", CLIENT, SERVER,
         (3, 4, 5, 6), None),
        ("crafted-ipv6-srh-error", "icmp6.unreachable.source-routing-header", "note", CLIENT,
         "2001:db8:1::1", (2, 4), None),
        ("crafted-ipv6-headers-too-long", "icmp6.unreachable.headers-too-long", "error", CLIENT,
         SERVER, (1, 2, 4), None),
        ("ipv6-packet-too-big", "icmp6.packet-too-big", "warning", CLIENT, SERVER,
         (3, 4, 5, 6, 9, 11, 15), None),
        ("ipv6-traceroute", "icmp6.hop-limit-exceeded", "chat", CLIENT, SERVER,
         tuple(range(3, 15)), "traceroute-or-path-probe"),
        ("ipv6-reassembly-timeout", "icmp6.reassembly-timeout", "warning", CLIENT, LOCAL_SERVER,
         (3, 4), "fragment-filtered"),
        ("ipv6-parameter-problem", "icmp6.parameter-problem", "error", CLIENT, LOCAL_SERVER,
         (4, 6), "unknown-upper-layer"),
        ("ipv6-echo-ok", "icmp6.echo.ok", "chat", CLIENT, LOCAL_SERVER, (3, 4, 5, 6),
         "reachable"),
        # The target's Neighbor Advertisement (2) shows it is there: a filter, not absence.
        ("ipv6-echo-no-reply", "icmp6.echo.no-reply", "warning", CLIENT, LOCAL_SERVER,
         (2, 3, 4, 5), "echo-filtered"),
    ])
def test_condition_comes_first_on_its_capture(capture, condition, severity, src, dst, evidence,
                                              cause) -> None:
    top = diagnoses(capture)[0]
    assert (top["condition"], top["severity"]) == (condition, severity)
    assert top["subject"]["dst"] == dst
    if src is not None:
        assert top["subject"]["src"] == src
    assert tuple(top["evidence"]) == evidence
    if cause:
        assert top["causes"][0]["id"] == cause


def test_packet_too_big_names_the_mtu() -> None:
    top = diagnoses("ipv6-packet-too-big")[0]
    assert top["details"]["mtu"] == 1280


def test_parameter_problem_decodes_the_pointer_to_the_ipv6_field() -> None:
    top = diagnoses("ipv6-parameter-problem")[0]
    assert (top["details"]["pointer"], top["details"]["pointer_field"]) == (6, "next-header")


def test_traceroute6_is_a_path_that_arrived() -> None:
    top = diagnoses("ipv6-traceroute")[0]
    assert top["details"]["path"] == "2001:db8:1::1 -> 2001:db8:3::2"
    assert top["details"]["arrived"] == SERVER
    assert [d for d in diagnoses("ipv6-traceroute") if d["severity"] in ("error", "warning")] == []


def test_routing_loop_is_the_same_datagram_with_less_hop_limit() -> None:
    found = [d for d in diagnoses("ipv6-routing-loop") if d["condition"] == "icmp6.routing-loop"]
    assert found and found[0] == diagnoses("ipv6-routing-loop")[0]
    assert "routing-loop.sighting" in found[0]["rules"]
    assert found[0]["details"]["ttls"] == "64 down to 33"  # as far as the frames kept go
    assert {3, 6, 9}.issubset(found[0]["evidence"])


def test_unknown_types_and_codes_are_named() -> None:
    found = {(d["details"]["type"], d["details"]["code"]): d["details"]["status"]
             for d in diagnoses("crafted-icmp6-unknown-type")
             if d["condition"] == "icmp6.unknown-type"}
    assert found == {(1, 10): "current", (200, 0): "experimental", (250, 0): "unassigned"}


def test_clean_ipv6_raises_nothing() -> None:
    found = diagnoses("ipv6-clean")
    assert {d["condition"] for d in found} == {"icmp6.echo.ok"}
    assert all(d["severity"] == "chat" for d in found)


def test_several_ipv6_failures_in_one_report() -> None:
    report = explain_json(CAPTURES / "ipv6-failures.pcapng")
    assert report["notes"] == [] and report["unanalysed"] == 0
    ranked = [d["condition"] for d in report["diagnoses"]]
    assert ranked[:3] == ["icmp6.unreachable.port", "icmp6.unreachable.no-route",
                          "icmp6.unreachable.address"]
    assert {"tcp.refused", "icmp6.packet-too-big", "icmp6.hop-limit-exceeded"} <= set(ranked)
    refused = next(d for d in report["diagnoses"] if d["condition"] == "tcp.refused")
    assert (refused["subject"]["dst"], refused["subject"]["dport"]) == (SERVER, 2222)


def test_why_takes_an_ipv6_service_in_brackets() -> None:
    out = run_netwhy("why", str(CAPTURES / "ipv6-failures.pcapng"),
                     f"[{SERVER}]:9999/udp").stdout
    assert f"1 conversation(s) to [{SERVER}]:9999/udp, 1 failed" in out.splitlines()[0]
    assert f"{CLIENT} -> {SERVER} udp/9999: ICMP-ERROR" in out


def test_host_filter_takes_an_ipv6_address_in_any_spelling() -> None:
    report = explain_json(CAPTURES / "ipv6-failures.pcapng", "--host", "2001:DB8:2:0::99")
    assert [d["condition"] for d in report["diagnoses"]] == ["icmp6.unreachable.address"]


def test_a_dual_stack_capture_ranks_both_families_together(tmp_path: Path) -> None:
    merged = tmp_path / "dual-stack.pcapng"
    subprocess.run(["mergecap", "-w", str(merged), str(CAPTURES / "ipv6-failures.pcapng"),
                    str(CAPTURES / "net-unreachable.pcapng")], check=True)
    ranked = [d["condition"] for d in explain_json(merged)["diagnoses"]]
    assert {"icmp.unreachable.net", "icmp6.unreachable.no-route",
            "icmp6.unreachable.port"} <= set(ranked)


@pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")
def test_watch_explains_ipv6_failures_live() -> None:
    """Live, the kernel's capture filter keeps ICMPv6, Neighbor Discovery and TCP's SYN and RST
    over IPv6 (where BPF cannot read TCP's flags by name): the same diagnoses as from a file."""
    from conftest import NETWHY

    from netwhy.lab.icmp6_scenarios import helper
    from netwhy.lab.ipv6_scenarios import routed_ipv6
    from netwhy.lab.netns import Topology

    with Topology() as t:
        routed_ipv6(t)
        watch = subprocess.Popen(
            ["ip", "netns", "exec", t.prefix + "client", str(NETWHY), "watch", "-i", "eth0",
             "--duration", "10", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(3)  # dumpcap and tshark starting
        t.run("client", ["ping", "-n", "-c", "1", "-W", "1", UNROUTED], check=False)
        t.run("client", helper("upload", SERVER, "2222", "10", "--wait", "2"))  # refused
        out, err = watch.communicate(timeout=60)
    assert watch.returncode == 0, err
    found = {(d["condition"], d["subject"]["dst"]) for d in json.loads(out)["diagnoses"]}
    assert {("icmp6.unreachable.no-route", UNROUTED), ("tcp.refused", SERVER)} <= found, out
