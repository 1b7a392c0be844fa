"""Every ICMP and ARP situation of the glossary: each condition fires on its scenario's capture
(kernel-made where Linux produces it), with the right subject, evidence and ranking, and the
rules that combine messages decide between look-alikes."""

from __future__ import annotations

import pytest
from conftest import CAPTURES, PUBLIC, explain_json

from netwhy.kb import load_knowledge_base

CLIENT = "192.0.2.10"


def diagnoses(capture: str) -> list[dict]:
    return explain_json(CAPTURES / f"{capture}.pcapng")["diagnoses"]


def only(capture: str, condition: str) -> dict:
    found = [d for d in diagnoses(capture) if d["condition"] == condition]
    assert len(found) == 1, [d["condition"] for d in diagnoses(capture)]
    return found[0]


@pytest.mark.parametrize("condition", sorted(load_knowledge_base().conditions))
def test_each_condition_fires_on_its_own_scenario(condition: str) -> None:
    scenario = load_knowledge_base().conditions[condition].scenario
    assert scenario and (CAPTURES / f"{scenario}.pcapng").exists(), scenario
    assert condition in {d["condition"] for d in diagnoses(scenario)}


@pytest.mark.parametrize(("capture", "condition", "severity", "src", "dst", "evidence", "cause"), [
    ("echo-ok", "icmp.echo.ok", "chat", CLIENT, "192.0.2.20", (3, 4, 5, 6), "reachable"),
    ("echo-no-reply-filtered", "icmp.echo.no-reply", "warning", CLIENT, "192.0.2.20",
     (2, 3, 4, 5), "echo-filtered"),
    ("crafted-source-quench", "icmp.source-quench", "warning", CLIENT, "198.51.100.20", (1, 6),
     "legacy-congestion"),
    ("redirect-ignored", "icmp.redirect.ignored", "warning", CLIENT, "198.51.100.7",
     (4, 10, 13, 16, 21, 30, 45), "redirects-disabled"),
    ("crafted-redirect-invalid", "icmp.redirect.invalid", "warning", CLIENT, "198.51.100.20",
     (2,), None),
    # Frame 3 is the first fragment of the datagram that never completed: the one quoted.
    ("reassembly-timeout", "icmp.reassembly-timeout", "warning", CLIENT, "192.0.2.20", (3, 4),
     "fragment-filtered"),
    ("parameter-problem", "icmp.parameter-problem", "error", CLIENT, "192.0.2.20", (4, 6),
     "bad-or-unsupported-option"),
    ("arp-unanswered", "arp.unanswered", "warning", CLIENT, "192.0.2.99", (5, 6, 7),
     "host-absent"),
    ("duplicate-ip", "arp.duplicate-ip", "error", "192.0.2.50", "192.0.2.50",
     (2, 4, 7, 9, 12, 14), "static-conflict"),
    ("gratuitous-arp", "arp.gratuitous", "note", "192.0.2.20", "192.0.2.20", (5,), None),
])
def test_condition(capture, condition, severity, src, dst, evidence, cause) -> None:
    diagnosis = only(capture, condition)
    assert diagnosis["severity"] == severity
    assert (diagnosis["subject"]["src"], diagnosis["subject"]["dst"]) == (src, dst)
    assert tuple(diagnosis["evidence"]) == evidence
    if cause:
        assert diagnosis["causes"][0]["id"] == cause


def test_echo_ok_reports_round_trip_time() -> None:
    diagnosis = only("echo-ok", "icmp.echo.ok")
    assert diagnosis["details"]["rtt_ms"] > 0 and diagnosis["details"]["count"] == 4


def test_echo_no_reply_weighs_arp_and_neighbours() -> None:
    filtered = only("echo-no-reply-filtered", "icmp.echo.no-reply")
    terms = {term["name"] for term in filtered["terms"]}
    assert {"target-arp-answered", "other-hosts-answer"} <= terms


def test_host_unreachable_and_unanswered_arp_are_one_diagnosis() -> None:
    found = diagnoses("host-down-combined")
    assert [d["condition"] for d in found] == ["icmp.unreachable.host"]
    host = found[0]
    assert {4, 6, 8} <= set(host["evidence"])  # the router's own unanswered ARP requests
    assert "arp-unanswered-for-host" in {term["name"] for term in host["terms"]}
    assert host["causes"][0]["id"] == "host-down"


def test_redirect_heeded_is_advice_taken() -> None:
    found = {d["condition"]: d for d in diagnoses("redirect-heeded")}
    assert "icmp.redirect.ignored" not in found and "icmp.redirect.invalid" not in found
    redirect = found["icmp.redirect"]
    assert redirect["severity"] == "chat" and redirect["details"]["gateway"] == "192.0.2.2"
    assert 5 in redirect["evidence"]  # the station's ARP for the new gateway


def test_redirect_ignored_replaces_plain_redirect() -> None:
    conditions = {d["condition"] for d in diagnoses("redirect-ignored")}
    assert "icmp.redirect.ignored" in conditions and "icmp.redirect" not in conditions
    ignored = only("redirect-ignored", "icmp.redirect.ignored")
    assert ignored["details"]["count"] == 7


def test_invalid_redirect_names_both_rfc_checks() -> None:
    invalid = only("crafted-redirect-invalid", "icmp.redirect.invalid")
    assert invalid["reporter"] == "192.0.2.66" and invalid["details"]["gateway"] == "203.0.113.9"
    assert len(invalid["rules"]) >= 1 and "icmp.redirect" not in {
        d["condition"] for d in diagnoses("crafted-redirect-invalid")}


def test_traceroute_is_a_path_not_a_fault() -> None:
    found = diagnoses("traceroute")
    assert [d["condition"] for d in found] == ["icmp.ttl-exceeded"]  # one path, no fault
    trace = found[0]
    assert trace["severity"] == "chat"
    assert trace["details"]["path"] == "192.0.2.1 -> 198.51.100.2"
    assert trace["details"]["arrived"] == "203.0.113.20"
    assert trace["evidence"] == list(range(3, 15))  # every probe and every answer
    assert trace["causes"][0]["id"] == "traceroute-or-path-probe"


def test_routing_loop_from_repeated_datagram_and_expired_ttl() -> None:
    loop = only("routing-loop", "icmp.routing-loop")
    assert loop["severity"] == "error" and loop["reporter"] == "203.0.113.2"
    assert {3, 6, 7, 69, 70} <= set(loop["evidence"])
    features = {term["name"] for term in loop["terms"]}
    assert "icmp.ttl-exceeded" not in {d["condition"] for d in diagnoses("routing-loop")}
    assert features


def test_parameter_problem_decodes_the_pointer() -> None:
    problem = only("parameter-problem", "icmp.parameter-problem")
    assert problem["details"]["pointer"] == 21 and problem["details"]["pointer_field"] == "options"


def test_timestamp_pairs_requests_and_replies() -> None:
    stamps = only("timestamp", "icmp.timestamp")
    assert stamps["details"]["requests"] == 3 and stamps["details"]["replies"] == 2


def test_address_mask_reply_that_disagrees() -> None:
    mask = only("crafted-address-mask", "icmp.address-mask")
    assert mask["details"]["mask"] == "255.255.0.0"
    assert mask["causes"][0]["id"] == "wrong-mask-reply"


def test_unknown_types_are_named() -> None:
    found = [d for d in diagnoses("crafted-unknown-type") if d["condition"] == "icmp.unknown-type"]
    assert {d["details"]["type"] for d in found} == {40, 42}
    assert all(d["details"]["name"] != "unassigned" for d in found)


def test_proxy_arp_conceals_a_too_wide_mask() -> None:
    found = {d["condition"]: d for d in diagnoses("proxy-arp-wide-mask")}
    proxy, mask = found["arp.proxy"], found["arp.mask-misconfig"]
    assert proxy["subject"]["src"] == "10.1.0.1" and proxy["details"]["count"] == 2
    assert mask["subject"]["src"] == "10.1.0.10" and mask["causes"][0]["id"] == "mask-too-wide"
    assert {7, 8, 13, 14} <= set(mask["evidence"])
    assert "arp.unanswered" not in found  # proxy ARP answered: nothing failed, it was hidden


def test_too_wide_mask_without_proxy_arp() -> None:
    found = {d["condition"]: d for d in diagnoses("wide-mask-no-proxy")}
    assert found["arp.mask-misconfig"]["causes"][0]["id"] == "mask-too-wide"
    assert found["arp.unanswered"]["causes"][0]["id"] == "asker-mask-too-wide"
    assert "arp.proxy" not in found


def test_too_narrow_mask_shows_as_redirect_to_the_destination() -> None:
    mask = only("narrow-mask", "arp.mask-misconfig")
    assert mask["causes"][0]["id"] == "mask-too-narrow" and 4 in mask["evidence"]


def test_arp_storm_is_one_finding_with_its_rate() -> None:
    found = diagnoses("arp-storm")
    storm = only("arp-storm", "arp.storm")
    assert storm["details"]["rate"] >= 20 and storm["causes"][0]["id"] == "scan"
    assert "arp.unanswered" not in {d["condition"] for d in found}  # folded into the storm


def test_unicast_replies_out_of_sight_are_not_unanswered() -> None:
    # A router's broadcast ARP whose unicast reply the client-side capture cannot see.
    for capture in ("redirect-heeded", "narrow-mask"):
        assert "arp.unanswered" not in {d["condition"] for d in diagnoses(capture)}


def test_clean_captures_raise_no_error_or_warning() -> None:
    for capture in (CAPTURES / "clean.pcapng", CAPTURES / "echo-ok.pcapng",
                    PUBLIC / "zeek" / "5-pings.pcap", PUBLIC / "zeek" / "arp-who-has.pcap",
                    PUBLIC / "suricata-verify" / "icmpv4-ping.pcap"):
        if not capture.exists():
            continue
        found = explain_json(capture)["diagnoses"]
        assert [d["condition"] for d in found if d["severity"] in ("error", "warning")] == []


def test_udp_port_sweep_is_one_finding() -> None:
    found = diagnoses("udp-port-sweep")
    assert [d["condition"] for d in found] == ["scan.port"]
    sweep = found[0]
    assert sweep["details"]["closed"] == 30 and sweep["severity"] == "warning"
    assert sweep["causes"][0]["id"] == "authorised-scan"


def test_repeated_arp_requests_are_trusted_single_ones_are_not() -> None:
    repeated = only("arp-unanswered", "arp.unanswered")
    assert "asked-again" in {term["name"] for term in repeated["terms"]}
    assert repeated["severity"] == "warning"
    single = only("host-down-behind-router.server-side", "arp.unanswered")
    assert single["severity"] == "warning"  # the router asked three times
    public = explain_json(PUBLIC / "zeek" / "arp-who-has.pcap")["diagnoses"]
    assert public == []



SHARED = CAPTURES.parents[2] / "shared" / "captures" / "public"


@pytest.mark.skipif(not SHARED.exists(), reason="../shared is not beside this clone")
def test_errors_about_multicast_break_the_rfcs() -> None:
    # A VirtualBox NAT router answering link-local IGMP reports (TTL 1) with time exceeded.
    found = explain_json(SHARED / "markofu-pcaps" / "suspicious-time.pcap")["diagnoses"]
    exceeded = [d for d in found if d["condition"] == "icmp.ttl-exceeded"]
    assert exceeded and all(d["subject"]["dst"] == "224.0.0.22" for d in exceeded)
    assert all("about-multicast" in {t["name"] for t in d["terms"]} for d in exceeded)
    assert all(d["severity"] == "note" for d in exceeded)
