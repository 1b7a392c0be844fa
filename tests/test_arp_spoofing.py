"""ARP spoofing (arp.spoofing) and its benign look-alikes: a failover, a replaced card, proxy
ARP, two hosts sharing an address; and proxy ARP seen in a two-packet capture."""

from __future__ import annotations

from conftest import CAPTURES, explain_json

from netwhy.dissect.facts import ArpMessage, Fact, IcmpMessage
from netwhy.expert.analyze import diagnose
from netwhy.expert.observations import observe
from netwhy.kb import load_knowledge_base

GATEWAY, VICTIM, ATTACKER, SERVER = "192.0.2.1", "192.0.2.10", "192.0.2.66", "203.0.113.20"
SERIOUS = ("error", "warning")


def diagnoses(capture: str) -> list[dict]:
    return explain_json(CAPTURES / f"{capture}.pcapng")["diagnoses"]


def test_spoofed_gateway_is_the_top_diagnosis() -> None:
    found = diagnoses("arp-spoofing")
    top = found[0]
    assert (top["condition"], top["severity"]) == ("arp.spoofing", "error")
    assert top["subject"]["dst"] == GATEWAY  # the claimed address
    assert top["subject"]["src"] == ATTACKER  # the claimant, by the address it ARPs under
    details = top["details"]
    assert details["ip"] == GATEWAY and details["claimant_ips"] == ATTACKER
    assert details["victims"] == VICTIM
    assert details["mac"] != details["holder"]  # claimant and the gateway's own MAC
    # The gateway's answer, the four unsolicited replies, the victim's first ping to the
    # attacker's MAC.
    assert {2, 7, 16, 23, 24, 8} <= set(top["evidence"])
    terms = {term["name"] for term in top["terms"]}
    assert {"unsolicited-arp-replies", "claim-contradicts-router",
            "traffic-through-claimant"} <= terms
    # One finding about the address, not also a conflict between two hosts.
    assert [d["condition"] for d in found].count("arp.spoofing") == 1
    assert "arp.duplicate-ip" not in {d["condition"] for d in found}


def test_vrrp_failover_is_no_spoofing() -> None:
    found = diagnoses("vrrp-failover")
    assert not [d["condition"] for d in found if d["severity"] in SERIOUS]
    assert "arp.spoofing" not in {d["condition"] for d in found}
    announced = next(d for d in found if d["condition"] == "arp.gratuitous")
    assert announced["causes"][0]["id"] == "fhrp-failover"


def test_a_replaced_card_stays_a_note() -> None:
    found = diagnoses("nic-replaced")
    assert not [d["condition"] for d in found if d["severity"] in SERIOUS]
    assert "arp.spoofing" not in {d["condition"] for d in found}
    taken = next(d for d in found if d["condition"] == "arp.duplicate-ip")
    assert "address-taken-over" in {term["name"] for term in taken["terms"]}
    assert taken["causes"][0]["id"] == "nic-replaced"


def test_two_hosts_sharing_an_address_stay_a_duplicate() -> None:
    found = {d["condition"]: d for d in diagnoses("duplicate-ip")}
    assert found["arp.duplicate-ip"]["severity"] == "error"
    assert "arp.spoofing" not in found


def test_proxy_arp_in_a_two_packet_capture() -> None:
    found = diagnoses("proxy-arp-two-packets")
    assert [d["condition"] for d in found] == ["arp.proxy"]
    proxy = found[0]
    assert proxy["severity"] == "note" and proxy["evidence"] == [2]
    assert proxy["subject"]["dst"] == "192.0.2.1"


# --- look-alikes made of facts -------------------------------------------------------------

A, B, V = "02:00:00:00:00:0a", "02:00:00:00:00:0b", "02:00:00:00:00:10"
ZERO = "00:00:00:00:00:00"


def arp(frame: int, time: float, opcode: int, mac: str, ip: str, target_ip: str,
        target_mac: str = ZERO) -> ArpMessage:
    return ArpMessage(frame, time, opcode, mac, ip, target_mac, target_ip, mac)


def ping(frame: int, time: float, src: str, dst: str, src_mac: str, dst_mac: str,
         reply: bool = False) -> IcmpMessage:
    return IcmpMessage(frame, time, src, dst, 64, 0 if reply else 8, 0, ident=1, seq=frame,
                       src_mac=src_mac, dst_mac=dst_mac)


def judged(facts: list[Fact]) -> dict[str, dict]:
    found = diagnose(observe(facts), load_knowledge_base())
    return {d.condition: d for d in found}


def through(router: str, frame: int, time: float) -> list[Fact]:
    return [ping(frame, time, VICTIM, SERVER, V, router),
            ping(frame + 1, time, SERVER, VICTIM, router, V, reply=True)]


def test_floating_address_failover_without_a_virtual_mac() -> None:
    """keepalived without use_vmac: the new master announces the gateway with its own MAC by
    gratuitous ARP; the old one stays up under its own address but no longer routes."""
    facts = [arp(1, 0.0, 1, V, VICTIM, GATEWAY), arp(2, 0.0, 2, A, GATEWAY, VICTIM, V),
             *through(A, 3, 0.1),
             arp(5, 3.0, 1, B, GATEWAY, GATEWAY), *through(B, 6, 3.5),
             arp(8, 4.0, 1, A, "192.0.2.2", VICTIM), arp(9, 4.0, 2, V, VICTIM, "192.0.2.2", A)]
    found = judged(facts)
    assert "arp.spoofing" not in found
    assert not [c for c, d in found.items() if d.severity in SERIOUS]


def test_proxy_arp_alongside_the_host_is_no_spoofing() -> None:
    """A router answers, when asked, for a host that answers too: nothing unsolicited."""
    host, asker = "192.0.2.30", "192.0.2.40"
    facts = [*through(A, 1, 0.0),
             arp(3, 1.0, 1, V, asker, host), arp(4, 1.0, 2, B, host, asker, V),
             arp(5, 1.2, 2, A, host, asker, V),
             arp(6, 5.0, 1, V, asker, host), arp(7, 5.0, 2, B, host, asker, V),
             arp(8, 5.3, 2, A, host, asker, V), *through(A, 9, 6.0)]
    assert "arp.spoofing" not in judged(facts)


def test_a_claim_against_the_router_with_traffic_following_it() -> None:
    """No unsolicited reply at all (the claimant answered a request), yet the MAC that routes
    the segment's traffic holds the address, keeps routing, and the victim's traffic now goes
    to the claimant: spoofing."""
    facts = [arp(1, 0.0, 1, V, VICTIM, GATEWAY), arp(2, 0.0, 2, A, GATEWAY, VICTIM, V),
             *through(A, 3, 0.1),
             arp(5, 2.0, 1, V, VICTIM, GATEWAY), arp(6, 2.0, 2, B, GATEWAY, VICTIM, V),
             ping(7, 2.5, VICTIM, SERVER, V, B), ping(8, 2.5, SERVER, VICTIM, A, V, reply=True)]
    spoof = judged(facts)["arp.spoofing"]
    assert spoof.details["mac"] == B and spoof.details["holder"] == A


def test_a_capture_that_starts_after_the_gateway_answered() -> None:
    """Only the claimant speaks ARP; the gateway is known by the traffic it routes, before
    the unsolicited replies and after them."""
    facts = [*through(A, 1, 0.0),
             arp(3, 2.0, 2, B, GATEWAY, VICTIM, V), arp(4, 4.0, 2, B, GATEWAY, VICTIM, V),
             ping(5, 4.5, VICTIM, SERVER, V, B), ping(6, 4.5, SERVER, VICTIM, A, V, reply=True)]
    spoof = judged(facts)["arp.spoofing"]
    assert (spoof.details["mac"], spoof.details["holder"]) == (B, A)
    assert spoof.details["victims"] == VICTIM and {3, 4, 5} <= set(spoof.evidence)


def test_a_late_answer_from_the_gateway_itself_is_no_spoofing() -> None:
    facts = [arp(1, 0.0, 1, V, VICTIM, GATEWAY), arp(2, 1.5, 2, A, GATEWAY, VICTIM, V),
             *through(A, 3, 2.0), arp(5, 9.0, 2, A, GATEWAY, VICTIM, V), *through(A, 6, 9.5)]
    assert "arp.spoofing" not in judged(facts)


def test_both_directions_poisoned_are_two_findings_by_one_claimant() -> None:
    """The attacker tells the victim it is the gateway and the gateway it is the victim."""
    facts = [arp(1, 0.0, 1, V, VICTIM, GATEWAY), arp(2, 0.0, 2, A, GATEWAY, VICTIM, V),
             *through(A, 3, 0.1),
             arp(5, 2.0, 2, B, GATEWAY, VICTIM, V), arp(6, 2.0, 2, B, VICTIM, GATEWAY, A),
             arp(7, 3.0, 2, B, GATEWAY, VICTIM, V), arp(8, 3.0, 2, B, VICTIM, GATEWAY, A),
             arp(9, 4.0, 1, A, GATEWAY, VICTIM), arp(10, 4.0, 2, V, VICTIM, GATEWAY, A)]
    found = diagnose(observe(facts), load_knowledge_base())
    spoofs = {d.subject.dst: d for d in found if d.condition == "arp.spoofing"}
    assert set(spoofs) == {GATEWAY, VICTIM}
    for spoof in spoofs.values():
        assert spoof.details["mac"] == B
        assert "claims-several-addresses" in {term.name for term in spoof.terms}
    assert "arp.duplicate-ip" not in {d.condition for d in found}


def test_failover_with_the_old_master_still_routing_replies() -> None:
    """Without a virtual MAC, the new master announces the gateway; replies still come back
    through the old one (asymmetric return), which no longer claims the address."""
    facts = [arp(1, 0.0, 1, V, VICTIM, GATEWAY), arp(2, 0.0, 2, A, GATEWAY, VICTIM, V),
             *through(A, 3, 0.1),
             arp(5, 3.0, 1, B, GATEWAY, GATEWAY),
             ping(6, 3.5, VICTIM, SERVER, V, B), ping(7, 3.5, SERVER, VICTIM, A, V, reply=True)]
    found = judged(facts)
    assert "arp.spoofing" not in found
    assert not [c for c, d in found.items() if d.severity in SERIOUS]


def test_an_announced_claim_whose_traffic_is_relayed_to_the_holder() -> None:
    """A gratuitous ARP from the attacker, which then passes the victim's traffic on to the
    real gateway: a man in the middle, not a failover."""
    facts = [arp(1, 0.0, 1, V, VICTIM, GATEWAY), arp(2, 0.0, 2, A, GATEWAY, VICTIM, V),
             *through(A, 3, 0.1),
             arp(5, 3.0, 1, B, GATEWAY, GATEWAY),
             ping(6, 3.5, VICTIM, SERVER, V, B), ping(7, 3.5, VICTIM, SERVER, B, A),
             ping(8, 3.5, SERVER, VICTIM, A, V, reply=True)]
    spoof = judged(facts)["arp.spoofing"]
    assert "relays-to-holder" in {term.name for term in spoof.terms}
    assert {5, 6, 7} <= set(spoof.evidence)
