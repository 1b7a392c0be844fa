"""Neighbor Discovery (RFC 4861, RFC 4862): each ndp.* condition on its lab capture, with its
rank, severity, subject, evidence frames and top cause; the router's unanswered solicitations
folded into its address unreachable; the benign captures (a VRRPv3 failover, a busy link)
raising nothing; and, made of facts, the look-alikes the rules must rule out."""

from __future__ import annotations

import pytest
from conftest import CAPTURES, explain_json

from netwhy.dissect import icmp6
from netwhy.dissect.facts import Fact, IcmpMessage, NdpMessage
from netwhy.expert.analyze import diagnose
from netwhy.expert.diagnosis import Diagnosis
from netwhy.expert.observations import observe
from netwhy.kb import load_knowledge_base

CLIENT, SLAAC = "2001:db8:1::10", "2001:db8:1::ff:fe00:a"
ROUTER_LL, ROGUE_LL = "fe80::ff:fe00:1", "fe80::ff:fe00:66"
SERVER, TARGET = "2001:db8:2::20", "2001:db8:1::30"
SERIOUS = ("error", "warning")


def diagnoses(capture: str) -> list[dict]:
    return explain_json(CAPTURES / f"{capture}.pcapng")["diagnoses"]


def ranked(capture: str, condition: str) -> tuple[int, dict]:
    """The rank of the condition's only diagnosis among the capture's, and the diagnosis."""
    found = diagnoses(capture)
    ranks = [rank for rank, d in enumerate(found) if d["condition"] == condition]
    assert len(ranks) == 1, [d["condition"] for d in found]
    return ranks[0], found[ranks[0]]


def terms(diagnosis: dict) -> set[str]:
    return {term["name"] for term in diagnosis["terms"]}


def cause_terms(diagnosis: dict) -> set[str]:
    """The `when` clauses that matched for the top cause, by feature ("not_first_hop x3")."""
    return {term["name"].split()[0] for term in diagnosis["causes"][0]["terms"]}


# --- each condition on its capture ---------------------------------------------------------


@pytest.mark.parametrize(
    ("capture", "condition", "severity", "src", "dst", "evidence", "cause"), [
        ("ndp-unanswered", "ndp.unanswered", "warning", CLIENT, "2001:db8:1::99", (1, 2, 3),
         "host-absent"),
        # B's probe from :: and A's answer; then both answer each of the client's solicitations.
        ("ndp-duplicate-address", "ndp.duplicate-address", "error", "2001:db8:1::50",
         "2001:db8:1::50", (1, 2, 8, 9, 13, 14), "static-conflict"),
        # The rogue's two advertisements, the client's probe for an address in its prefix, and
        # the three pings the client then sent to the rogue's MAC.
        ("ndp-rogue-router", "ndp.rogue-router", "error", ROGUE_LL, ROUTER_LL,
         (9, 10, 11, 12, 13, 14), "accidental-device"),
        # The last advertisement offering the router, and the withdrawal.
        ("ndp-router-lifetime-zero", "ndp.router-lifetime-zero", "warning", ROUTER_LL,
         "ff02::1", (1, 9), "graceful-shutdown"),
        ("ndp-redirect-ignored", "ndp.redirect.ignored", "warning", CLIENT, TARGET,
         (4, 8, 11, 14, 17, 20, 31, 42), "redirects-disabled"),
        ("crafted-ndp-redirect-invalid", "ndp.redirect.invalid", "warning", CLIENT, SERVER,
         (2,), "forged-redirect"),
    ])
def test_condition_is_the_top_diagnosis(capture, condition, severity, src, dst, evidence,
                                        cause) -> None:
    rank, diagnosis = ranked(capture, condition)
    assert rank == 0
    assert diagnosis["severity"] == severity
    assert (diagnosis["subject"]["src"], diagnosis["subject"]["dst"]) == (src, dst)
    assert tuple(diagnosis["evidence"]) == evidence
    assert diagnosis["causes"][0]["id"] == cause


def test_unanswered_solicitations_weigh_the_answered_ones() -> None:
    _, unanswered = ranked("ndp-unanswered", "ndp.unanswered")
    assert unanswered["reporter"] == CLIENT and unanswered["details"]["count"] == 3
    assert "solicited-again" in terms(unanswered)
    # The server's advertisement to the client (for its own address) shows the capture sees
    # advertisements to the client; nothing ever came from 2001:db8:1::99.
    assert cause_terms(unanswered) == {"asker_answered", "solicitations"}


def test_answered_probe_and_two_live_claimants_are_one_duplicate() -> None:
    found = diagnoses("ndp-duplicate-address")
    assert [d["condition"] for d in found if d["severity"] in SERIOUS] == [
        "ndp.duplicate-address"]
    duplicate = found[0]
    assert duplicate["details"]["macs"] == "02:00:00:00:00:51, 02:00:00:00:00:52"
    assert cause_terms(duplicate) == {"alternating", "dad"}
    assert "ndp.unanswered" not in {d["condition"] for d in found}  # a probe is no query


def test_router_advertisement_is_chat_with_its_contents() -> None:
    found = diagnoses("ndp-router-advertisement")
    assert not [d["condition"] for d in found if d["severity"] in SERIOUS]
    _, advertised = ranked("ndp-router-advertisement", "ndp.router-advertisement")
    assert advertised["severity"] == "chat"
    assert (advertised["subject"]["src"], advertised["reporter"]) == (ROUTER_LL, ROUTER_LL)
    assert advertised["evidence"] == [7]
    details = advertised["details"]
    assert (details["prefixes"], details["link_mtu"], details["lifetime"]) == (
        "2001:db8:1::", 1500, 1800)
    assert advertised["causes"][0]["id"] == "default-router"
    # The client's duplicate address detection probes (from ::) are no unanswered queries.
    assert "ndp.unanswered" not in {d["condition"] for d in found}


def test_rogue_router_is_reported_once_and_the_real_one_as_chat() -> None:
    found = diagnoses("ndp-rogue-router")
    _, rogue = ranked("ndp-rogue-router", "ndp.rogue-router")
    assert {"traffic-to-rogue", "rogue-prefix-adopted"} <= terms(rogue)
    assert "advertiser-routes-traffic" not in terms(rogue)  # it dropped what it was sent
    assert rogue["details"]["prefixes"] == "2001:db8:bad::"
    assert rogue["details"]["victims"] == SLAAC
    assert cause_terms(rogue) == {"other_prefixes"}
    # The real router's advertisement stays chat; the rogue's is the rogue finding alone.
    chat = [d for d in found if d["condition"] == "ndp.router-advertisement"]
    assert [d["subject"]["src"] for d in chat] == [ROUTER_LL] and chat[0]["severity"] == "chat"


def test_withdrawal_without_failures_or_another_router() -> None:
    found = diagnoses("ndp-router-lifetime-zero")
    assert [d["condition"] for d in found if d["severity"] in SERIOUS] == [
        "ndp.router-lifetime-zero"]
    _, zero = ranked("ndp-router-lifetime-zero", "ndp.router-lifetime-zero")
    assert zero["details"]["other_routers"] == "none"
    # The pings after it failed inside the client (no default route): nothing on the wire.
    assert "failures-after-withdrawal" not in terms(zero)
    assert "ndp.router-advertisement" in {d["condition"] for d in found}


def test_redirect_heeded_is_advice_taken() -> None:
    found = {d["condition"]: d for d in diagnoses("ndp-redirect-heeded")}
    assert "ndp.redirect.ignored" not in found and "ndp.redirect.invalid" not in found
    redirect = found["ndp.redirect"]
    assert redirect["severity"] == "chat" and "new-first-hop-used" in terms(redirect)
    assert (redirect["subject"]["src"], redirect["subject"]["dst"]) == (CLIENT, TARGET)
    assert redirect["reporter"] == ROUTER_LL and redirect["details"]["gateway"] == TARGET
    # The redirect, the client's solicitation for the target, its first ping sent straight.
    assert redirect["evidence"] == [4, 7, 9]
    assert redirect["causes"][0]["id"] == "on-link-destination"


def test_redirect_ignored_replaces_the_plain_redirect() -> None:
    conditions = {d["condition"] for d in diagnoses("ndp-redirect-ignored")}
    assert "ndp.redirect" not in conditions and "ndp.redirect.invalid" not in conditions
    _, ignored = ranked("ndp-redirect-ignored", "ndp.redirect.ignored")
    assert ignored["reporter"] == ROUTER_LL and ignored["details"]["count"] == 8
    assert ignored["details"]["gateway"] == TARGET
    assert cause_terms(ignored) == {"solicited_new_hop"}  # it never solicited the target


def test_invalid_redirect_names_the_checks_it_fails() -> None:
    conditions = {d["condition"] for d in diagnoses("crafted-ndp-redirect-invalid")}
    assert "ndp.redirect" not in conditions and "ndp.redirect.ignored" not in conditions
    _, invalid = ranked("crafted-ndp-redirect-invalid", "ndp.redirect.invalid")
    assert invalid["reporter"] == "2001:db8:1::66"
    assert invalid["details"]["gateway"] == "fe80::ff:fe00:42"
    assert invalid["details"]["failed"] == (
        "source not link-local; not the host's first hop; hop limit not 255")
    # Sent from a global address with hop limit 64, by a MAC the client's traffic to the
    # server never went through.
    assert cause_terms(invalid) == {"hop_limit_not_255", "not_first_hop", "not_link_local"}


def test_address_unreachable_and_the_routers_unanswered_solicitations_are_one() -> None:
    found = diagnoses("ipv6-address-unreachable")
    assert [d["condition"] for d in found] == ["icmp6.unreachable.address"]
    unreachable = found[0]
    assert {4, 6, 8} <= set(unreachable["evidence"])  # the router's own solicitations
    assert "ndp-unanswered-for-address" in terms(unreachable)
    assert "ndp_unanswered" in cause_terms(unreachable)
    assert unreachable["causes"][0]["id"] == "host-down"


def test_unanswered_ping_to_a_neighbour_that_answered_solicitation() -> None:
    _, silent = ranked("ipv6-echo-no-reply", "icmp6.echo.no-reply")
    assert "target-ndp-answered" in terms(silent)
    assert 2 in silent["evidence"]  # the target's advertisement
    assert "ndp_answered" in cause_terms(silent)


@pytest.mark.parametrize("capture", ["ipv6-vrrp-failover", "ndp-normal"])
def test_benign_captures_raise_no_error_or_warning(capture: str) -> None:
    found = diagnoses(capture)
    assert not [d["condition"] for d in found if d["severity"] in SERIOUS]
    assert not [d["condition"] for d in found if d["condition"].startswith("ndp.")]


# --- look-alikes made of facts -------------------------------------------------------------

A, B, H, R = ("02:00:00:00:00:51", "02:00:00:00:00:52", "02:00:00:00:00:0a",
              "02:00:00:00:00:01")
DUP = "2001:db8:1::50"
PREFIX = "2001:db8:1::"


def group(address: str) -> str:
    """The solicited-node multicast address (RFC 4291 2.7.1); close enough for these tests."""
    return f"ff02::1:ff00:{address.rsplit(':', 1)[1]}"


def ns(frame: int, time: float, src: str, target: str, mac: str, dst: str = "") -> NdpMessage:
    return NdpMessage(frame, time, icmp6.NEIGHBOR_SOLICITATION, 0, src, dst or group(target),
                      255, mac, target=target, link_address=None if src == "::" else mac)


def na(frame: int, time: float, target: str, dst: str, mac: str,
       override: bool = True) -> NdpMessage:
    return NdpMessage(frame, time, icmp6.NEIGHBOR_ADVERTISEMENT, 0, target, dst, 255, mac,
                      target=target, link_address=mac, solicited=dst != "ff02::1",
                      override=override)


def ra(frame: int, time: float, src: str, mac: str, lifetime: int = 1800,
       prefixes: tuple[str, ...] = (PREFIX,)) -> NdpMessage:
    return NdpMessage(frame, time, icmp6.ROUTER_ADVERTISEMENT, 0, src, "ff02::1", 255, mac,
                      link_address=mac, router_lifetime=lifetime, prefixes=prefixes, mtu=1500)


def redirect(frame: int, time: float, target: str, destination: str = SERVER,
             src: str = ROUTER_LL, mac: str = R, hop_limit: int = 255,
             code: int = 0) -> NdpMessage:
    return NdpMessage(frame, time, icmp6.REDIRECT, code, src, CLIENT, hop_limit, mac,
                      target=target, destination=destination)


def ping(frame: int, time: float, src: str, dst: str, src_mac: str, dst_mac: str,
         reply: bool = False) -> IcmpMessage:
    return IcmpMessage(frame, time, src, dst, 64, icmp6.ECHO_REPLY if reply else icmp6.ECHO, 0,
                       ident=1, seq=frame, src_mac=src_mac, dst_mac=dst_mac, family=6)


def judged(facts: list[Fact]) -> dict[str, Diagnosis]:
    found = diagnose(observe(facts), load_knowledge_base())
    return {d.condition: d for d in found}


def asked_and_answered(frame: int, time: float, mac: str, override: bool = True) -> list[Fact]:
    return [ns(frame, time, CLIENT, DUP, H), na(frame + 1, time, DUP, CLIENT, mac, override)]


def test_an_unanswered_probe_is_no_query_and_claims_nothing() -> None:
    found = judged([ns(1, 0.0, "::", DUP, A), ns(2, 1.0, "::", DUP, A),
                    na(3, 2.0, DUP, "ff02::1", A), *asked_and_answered(4, 3.0, A)])
    assert not found


def test_probe_answered_by_another_node_is_a_duplicate() -> None:
    found = judged([ns(1, 0.0, "::", DUP, B), na(2, 0.0, DUP, "ff02::1", A)])
    duplicate = found["ndp.duplicate-address"]
    assert duplicate.severity == "error" and duplicate.evidence == (1, 2)
    assert duplicate.details["macs"] == f"{A}, {B}"


def test_two_nodes_probing_one_address_at_once_are_a_duplicate() -> None:
    found = judged([ns(1, 0.0, "::", DUP, A), ns(2, 0.4, "::", DUP, B)])
    assert found["ndp.duplicate-address"].evidence == (1, 2)


def test_a_takeover_is_no_duplicate() -> None:
    """A replaced card: one link-layer address answers, falls silent, then another does."""
    facts = [*asked_and_answered(1, 0.0, A), *asked_and_answered(3, 1.0, A),
             *asked_and_answered(5, 30.0, B), *asked_and_answered(7, 31.0, B)]
    assert "ndp.duplicate-address" not in judged(facts)


def test_the_old_holder_still_sending_makes_it_no_takeover() -> None:
    facts = [*asked_and_answered(1, 0.0, A), *asked_and_answered(3, 30.0, B),
             ping(5, 31.0, DUP, CLIENT, A, H)]
    assert "ndp.duplicate-address" in judged(facts)


def test_anycast_answers_without_override_are_no_duplicate() -> None:
    facts = [ns(1, 0.0, CLIENT, DUP, H), na(2, 0.0, DUP, CLIENT, A, override=False),
             na(3, 0.001, DUP, CLIENT, B, override=False),
             ns(4, 5.0, CLIENT, DUP, H), na(5, 5.0, DUP, CLIENT, A, override=False),
             na(6, 5.001, DUP, CLIENT, B, override=False)]
    assert "ndp.duplicate-address" not in judged(facts)


def test_a_proxy_answering_beside_the_owner_keeps_override_false() -> None:
    facts = [ns(1, 0.0, CLIENT, DUP, H), na(2, 0.0, DUP, CLIENT, A),
             na(3, 0.001, DUP, CLIENT, B, override=False),
             ns(4, 5.0, CLIENT, DUP, H), na(5, 5.0, DUP, CLIENT, A),
             na(6, 5.001, DUP, CLIENT, B, override=False)]
    duplicate = judged(facts)["ndp.duplicate-address"]
    assert duplicate.causes[0].id == "anycast"  # a holder that answers without override
    proxy = next(cause for cause in duplicate.causes if cause.id == "proxy-alongside")
    assert [term.name for term in proxy.terms] == ["override x4"]


@pytest.mark.parametrize("macs", [
    ("00:07:b4:00:01:01", "00:07:b4:00:01:02"),  # GLBP's forwarders for one gateway
    ("00:00:5e:00:02:07", "00:00:5e:00:02:07"),  # one VRRPv3 MAC, moved between routers
])
def test_virtual_router_macs_are_no_duplicate(macs: tuple[str, str]) -> None:
    gateway = "fe80::1"
    facts = [ns(1, 0.0, CLIENT, gateway, H), na(2, 0.0, gateway, CLIENT, macs[0]),
             na(3, 1.0, gateway, "ff02::1", macs[1]), ns(4, 2.0, CLIENT, gateway, H),
             na(5, 2.0, gateway, CLIENT, macs[0]), na(6, 3.0, gateway, "ff02::1", macs[1])]
    found = judged(facts)
    assert "ndp.duplicate-address" not in found and not found


def test_a_virtual_mac_against_a_real_one_is_only_a_note() -> None:
    gateway, virtual = "fe80::1", "00:00:5e:00:02:07"
    facts = [ns(1, 0.0, CLIENT, gateway, H), na(2, 0.0, gateway, CLIENT, virtual),
             na(3, 0.001, gateway, CLIENT, A), ns(4, 2.0, CLIENT, gateway, H),
             na(5, 2.0, gateway, CLIENT, virtual), na(6, 2.001, gateway, CLIENT, A)]
    duplicate = judged(facts)["ndp.duplicate-address"]
    assert duplicate.severity == "note" and duplicate.causes[0].id == "fhrp-failover"


def test_a_solicitation_the_capture_ends_on_is_not_unanswered() -> None:
    assert "ndp.unanswered" not in judged([ns(1, 0.0, CLIENT, DUP, H),
                                           ping(2, 0.5, CLIENT, "2001:db8:1::7", H, A)])


def test_one_solicitation_for_a_live_target_is_trusted_two_are_not() -> None:
    """The target sends, and no advertisement to the asker is in sight: one solicitation's
    answer may have passed the capture point; a second means none reached the asker."""
    alive = ping(1, 0.0, DUP, "2001:db8:1::7", A, B)
    once = judged([alive, ns(2, 0.1, CLIENT, DUP, H), ping(3, 3.0, DUP, "2001:db8:1::7", A, B)])
    assert "ndp.unanswered" not in once
    twice = judged([alive, ns(2, 0.1, CLIENT, DUP, H), ns(3, 1.1, CLIENT, DUP, H),
                    ping(4, 3.0, DUP, "2001:db8:1::7", A, B)])
    unanswered = twice["ndp.unanswered"]
    assert unanswered.evidence == (2, 3)
    assert "target_seen x3" in {t.name for c in unanswered.causes for t in c.terms}


def test_a_router_that_is_never_a_default_router() -> None:
    found = judged([ra(1, 0.0, ROUTER_LL, R, lifetime=0), ra(2, 5.0, ROUTER_LL, R, lifetime=0)])
    assert set(found) == {"ndp.router-advertisement"}
    assert found["ndp.router-advertisement"].causes[0].id == "not-default-router"


def test_one_station_advertising_from_two_addresses_is_no_rogue() -> None:
    found = judged([ra(1, 0.0, ROUTER_LL, R), ra(2, 1.0, "fe80::1234", R)])
    assert "ndp.rogue-router" not in found


def test_a_second_advertiser_with_the_same_prefixes_and_no_default_is_no_rogue() -> None:
    found = judged([ra(1, 0.0, ROUTER_LL, R), ra(2, 1.0, ROGUE_LL, A, lifetime=0)])
    assert "ndp.rogue-router" not in found


def through(frame: int, time: float, mac: str) -> list[Fact]:
    """A ping from the client to the server behind `mac`, and its reply through it."""
    return [ping(frame, time, SLAAC, SERVER, H, mac),
            ping(frame + 1, time, SERVER, SLAAC, mac, H, reply=True)]


def test_a_second_router_that_forwards_is_only_a_note() -> None:
    facts = [ra(1, 0.0, ROUTER_LL, R), *through(2, 0.5, R), ra(4, 1.0, ROGUE_LL, A),
             *through(5, 1.5, A)]
    rogue = judged(facts)["ndp.rogue-router"]
    assert rogue.severity == "note" and rogue.subject.src == ROGUE_LL
    assert "advertiser-routes-traffic" in {term.name for term in rogue.terms}
    assert rogue.causes[0].id == "second-router"


def test_a_router_advertising_while_another_mac_routes_the_link() -> None:
    """The link's router does not advertise (static configuration); a station that does,
    and drops what it is sent, is rogue."""
    facts = [ns(1, 0.0, SLAAC, "2001:db8:1::1", H), na(2, 0.0, "2001:db8:1::1", SLAAC, R),
             *through(3, 0.1, R), ra(5, 1.0, ROGUE_LL, A, prefixes=("2001:db8:bad::",)),
             ping(6, 2.0, SLAAC, SERVER, H, A)]
    rogue = judged(facts)["ndp.rogue-router"]
    assert rogue.severity == "error" and rogue.evidence == (5, 6)
    assert rogue.subject.dsts == ("ff02::1",)  # the link's router has no address in NDP


def test_withdrawal_while_another_router_remains() -> None:
    facts = [ra(1, 0.0, ROUTER_LL, R), ra(2, 0.0, "fe80::2", A),
             ra(3, 5.0, ROUTER_LL, R, lifetime=0)]
    zero = judged(facts)["ndp.router-lifetime-zero"]
    assert zero.severity == "note" and zero.details["other_routers"] == "fe80::2"
    assert [cause.id for cause in zero.causes[:2]] == ["graceful-shutdown", "demoted-by-design"]


def test_withdrawal_followed_by_failures() -> None:
    facts = [ra(1, 0.0, ROUTER_LL, R), *through(2, 0.5, R),
             ra(4, 1.0, ROUTER_LL, R, lifetime=0),
             ping(5, 2.0, SLAAC, SERVER, H, R), ping(6, 3.0, SLAAC, SERVER, H, R),
             ping(7, 2.5, SLAAC, "2001:db8:3::1", H, R), ping(8, 3.5, SLAAC, "2001:db8:3::1", H, R)]
    zero = judged(facts)["ndp.router-lifetime-zero"]
    assert zero.severity == "warning" and "failures-after-withdrawal" in {
        term.name for term in zero.terms}
    # The offer, the withdrawal, the pings that failed (those to the server had been answered).
    assert zero.evidence == (1, 4, 7, 8)
    upstream = next(cause for cause in zero.causes if cause.id == "upstream-lost")
    assert {term.name for term in upstream.terms} == {"other_router x1.5", "failures_after x1.2"}


@pytest.mark.parametrize(("message", "failed"), [
    (redirect(2, 0.1, "2001:db8:1::2"), "target neither link-local nor the destination"),
    (redirect(2, 0.1, "fe80::2", code=1), "code 1, not 0"),
    (redirect(2, 0.1, "fe80::2", hop_limit=64), "hop limit not 255"),
])
def test_each_redirect_check(message: NdpMessage, failed: str) -> None:
    found = judged([ping(1, 0.0, CLIENT, SERVER, H, R), message])
    assert "ndp.redirect" not in found
    assert found["ndp.redirect.invalid"].details["failed"] == failed


def test_an_invalid_redirect_repeated_is_invalid_only() -> None:
    facts = [ping(1, 0.0, CLIENT, SERVER, H, R), redirect(2, 0.0, "fe80::2", hop_limit=64)]
    facts += [fact for n in range(1, 5) for fact in (
        ping(2 * n + 1, float(n), CLIENT, SERVER, H, R),
        redirect(2 * n + 2, float(n), "fe80::2", hop_limit=64))]
    found = judged(facts)
    assert "ndp.redirect.invalid" in found
    assert "ndp.redirect.ignored" not in found and "ndp.redirect" not in found


def test_repeated_redirects_the_host_acted_on_are_not_ignored() -> None:
    """The host moved its traffic to the new first hop; the router's later redirects crossed
    packets already on their way."""
    facts = [ping(1, 0.0, CLIENT, SERVER, H, R), redirect(2, 0.0, "fe80::2"),
             ns(3, 0.1, CLIENT, "fe80::2", H), na(4, 0.1, "fe80::2", CLIENT, A)]
    facts += [fact for n in range(1, 4) for fact in (
        ping(3 * n + 2, float(n), CLIENT, SERVER, H, A), redirect(3 * n + 3, n + 0.5, "fe80::2"),
        ping(3 * n + 4, n + 0.6, SERVER, CLIENT, A, H, reply=True))]
    found = judged(facts)
    assert "ndp.redirect.ignored" not in found
    assert found["ndp.redirect"].severity == "chat"
