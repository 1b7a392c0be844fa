"""Neighbor Discovery (RFC 4861, RFC 4862): unanswered solicitations (and the router's own,
behind its address unreachable), duplicate addresses, router advertisements (rogue ones, and a
router withdrawing with lifetime 0), and redirects (heeded, ignored, invalid).

The observations (ndp_observations.py) are judged here in Python, where a judgement needs the
whole capture (which MAC is the link's router, who took an address over from whom), and turned
into one fact per solicitation, contested address, router and redirect group; the rules then
conclude findings from them and join them to other modules' findings.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from durable.lang import c, m, none, when_all

from netwhy.expert.engine_facts import microseconds
from netwhy.expert.ndp_observations import (
    NdpObservations,
    Redirect,
    Router,
    Use,
    is_fhrp_mac,
    is_link_local,
    is_multicast,
    prefix64,
)
from netwhy.expert.observations import Observations
from netwhy.expert.registry import Rule
from netwhy.expert.rule_api import RuleApi
from netwhy.kb import KnowledgeBase

RULES = (
    Rule("ndp.unanswered",
         "Neighbor Solicitations for an address that nobody answered",
         ("ndp.unanswered",)),
    Rule("ndp.explains-address-unreachable",
         "A router's address unreachable and its own unanswered solicitations for that address: "
         "one diagnosis",
         ("icmp6.unreachable.address",)),
    Rule("ndp.echo-target",
         "What Neighbor Discovery shows of an unanswered ping's target: solicited, answered",
         ("icmp6.echo.no-reply",)),
    Rule("ndp.duplicate-address",
         "An answered duplicate address detection probe, or two live link-layer addresses "
         "claiming one IPv6 address",
         ("ndp.duplicate-address",)),
    Rule("ndp.router-advertisement",
         "A router advertising itself on its link: its lifetime, prefixes and MTU",
         ("ndp.router-advertisement",)),
    Rule("ndp.rogue-router",
         "Router Advertisements from a station that is not the link's router",
         ("ndp.rogue-router",)),
    Rule("ndp.router-lifetime-zero",
         "A router that offered itself as default router advertises router lifetime 0",
         ("ndp.router-lifetime-zero",)),
    Rule("ndp.redirect",
         "A Redirect, and whether the host then solicited or used the new first hop",
         ("ndp.redirect",)),
    Rule("ndp.redirect.ignored",
         "The router keeps redirecting the same host for the same destination: it is ignored",
         ("ndp.redirect.ignored",)),
    Rule("ndp.redirect.invalid",
         "A Redirect that fails RFC 4861 section 8.1's checks, which hosts must discard",
         ("ndp.redirect.invalid",)),
)
(UNANSWERED, ADDRESS_UNREACHABLE, ECHO_TARGET, DUPLICATE, ADVERTISEMENT, ROGUE, WITHDRAWN,
 REDIRECT, IGNORED, INVALID) = (rule.id for rule in RULES)
# What these rules attach to a finding for the knowledge base's `when` clauses.
FEATURES = {
    "solicitations": ("int", "Neighbor Solicitations sent for the target"),
    "asker_answered": ("bool", "the capture shows Neighbor Advertisements answering this asker "
                               "(for other targets)"),
    "target_seen": ("bool", "the solicited address sent something in the capture"),
    "ndp_unanswered": ("bool", "the capture shows unanswered Neighbor Solicitations for the "
                               "destination"),
    "ndp_answered": ("bool", "the destination's link-layer address was resolved by Neighbor "
                             "Discovery in the capture"),
    "dad": ("bool", "a duplicate address detection probe (a solicitation from ::) for the "
                    "address was answered, or another node probed it at the same time"),
    "fhrp_mac": ("bool", "a link-layer address claiming it is a VRRPv3, HSRP for IPv6 or GLBP "
                         "virtual router MAC"),
    "alternating": ("bool", "the link-layer addresses claim the address in turn, or the older "
                            "one keeps using it: both are live"),
    "link_addresses": ("int", "link-layer addresses claiming one IPv6 address"),
    "override": ("bool", "every claimant advertised the address with the override flag (or used "
                         "it as its own source); false: one answered as anycast or proxy does"),
    "router_lifetime": ("int", "router lifetime an advertisement offered, in seconds (0: not a "
                               "default router)"),
    "mtu_option": ("int", "the MTU a router advertisement announced (0: no MTU option)"),
    "prefix_count": ("int", "prefixes a router advertisement announced"),
    "other_prefixes": ("bool", "the advertiser announces prefixes the link's router does not"),
    "announces_default": ("bool", "the advertiser offers itself as default router (lifetime "
                                  "above 0)"),
    "routes_traffic": ("bool", "the advertiser's link-layer address delivers off-link traffic "
                               "onto the link"),
    "failures_after": ("int", "conversations to off-link destinations that got no reply after "
                              "the withdrawal"),
    "other_router": ("bool", "another router still offers itself as default router"),
    "solicited_new_hop": ("bool", "after the Redirect the host solicited its target (the new "
                                  "first hop) or sent its traffic for the destination there"),
    "target_is_destination": ("bool", "the Redirect's target is its destination: the "
                                      "destination is on-link"),
    "not_link_local": ("bool", "the Redirect's source is not a link-local address"),
    "not_first_hop": ("bool", "the Redirect came from a MAC the host did not send its traffic "
                              "for the destination through"),
    "hop_limit_not_255": ("bool", "the Redirect's hop limit is not 255: it was not sent on the "
                                  "link, or by a broken stack"),
    "bad_target": ("bool", "the Redirect's target is neither link-local nor its destination"),
}
TERMS = (  # evidence terms, weighed in kb/evidence.yaml
    "solicited-again", "advertisements-invisible", "ndp-unanswered-for-address",
    "target-ndp-unanswered", "target-ndp-answered", "fhrp-virtual-mac",
    "advertiser-routes-traffic", "traffic-to-rogue", "rogue-prefix-adopted",
    "failures-after-withdrawal", "other-router-remains", "new-first-hop-used",
)
# Facts handed to the engine per kind, most telling first (the engine costs kilobytes a fact).
MAX_QUERY_FACTS = 10_000
MAX_EVIDENCE_FRAMES = 32
ALL_NODES = "ff02::1"


# --- observations as engine facts ---------------------------------------------------------


def observation_facts(seen: Observations, kb: KnowledgeBase) -> Iterator[dict[str, Any]]:
    ndp = seen.ndp
    yield from _query_facts(seen, ndp)
    yield from _duplicate_facts(ndp)
    yield from _router_facts(seen, ndp)
    yield from _redirect_facts(ndp)


def _query_facts(seen: Observations, ndp: NdpObservations) -> Iterator[dict[str, Any]]:
    answering = seen.answering_hosts()
    senders = {service.src for service in seen.services.values()}
    senders |= {group.sender for group in seen.errors.values()}
    # Answered solicitations matter only to findings about their target: an error about it,
    # or an unanswered ping to it.
    wanted = {group.q_dst for group in seen.errors.values() if group.family == 6}
    wanted |= {service.dst for service in seen.services.values()
               if service.proto == "icmpv6" and service.replies < service.attempts}
    queries = [query for query in ndp.solicitations.values()
               if not query.replies or query.target in wanted]
    queries.sort(key=lambda query: (bool(query.replies), -query.count))
    for index, query in enumerate(queries[:MAX_QUERY_FACTS]):
        yield {
            "kind": "ndp_query", "key": f"ndpq:{index}",
            "asker": query.asker, "asker_mac": query.asker_mac, "target": query.target,
            "solicitations": query.count, "replies": query.replies,
            "request_frames": list(query.frames), "reply_frames": list(query.reply_frames),
            "asker_answered": query.asker in ndp.askers_answered,
            "target_seen": (ndp.sent_from(query.target) or query.target in answering
                            or query.target in senders),
            "first_time_us": microseconds(query.first_time),
            "end_time_us": microseconds(seen.end_time),
        }


def _duplicate_facts(ndp: NdpObservations) -> Iterator[dict[str, Any]]:
    contested = {ip for ip, claim in ndp.claims.items() if len(claim.macs) > 1}
    contested |= {ip for ip, probe in ndp.probes.items() if probe.answered}
    for index, ip in enumerate(sorted(contested)):
        claim, probe = ndp.claims.get(ip), ndp.probes.get(ip)
        dad = probe is not None and probe.answered
        claimants = dict(claim.macs) if claim else {}
        macs = set(claimants) | (set(probe.macs) | set(probe.answer_macs) if dad else set())
        if all(is_fhrp_mac(mac) for mac in macs):
            continue  # GLBP's forwarders, a VRRPv3 group's MAC: shared by design
        alternating = bool(claim) and (claim.alternating or _both_live(ndp, ip))
        if not dad and not alternating:
            continue  # one link-layer address took over from another: a card, a failover
        advertisers = [by for by in claimants.values() if by.advertised]
        if not dad and advertisers and not any(by.override for by in claimants.values()):
            continue  # anycast (RFC 4861 7.2.7): every holder answers without override
        frames = set()
        if dad:
            frames |= set(probe.frames) | set(probe.answer_frames)
        for by in claimants.values():
            frames |= set(by.frames)
        yield {
            "kind": "ndp_duplicate", "key": f"ndpdup:{index}", "ip": ip,
            "macs": sorted(macs), "dad": dad, "fhrp_mac": any(is_fhrp_mac(m) for m in macs),
            "alternating": alternating,
            "override": all(by.override for by in claimants.values()),
            "frames": sorted(frames)[:MAX_EVIDENCE_FRAMES], "count": len(frames),
        }


def _both_live(ndp: NdpObservations, ip: str) -> bool:
    """A link-layer address that gave way in Neighbor Discovery still sends from the address
    after the next one's first claim: no takeover, two machines."""
    claim, sent = ndp.claims[ip], ndp.sources.get(ip, {})
    for old, new in zip(claim.order, claim.order[1:], strict=False):
        if sent.get(old, -1.0) > claim.macs[new].first_time:
            return True
    return False


def _link_router(ndp: NdpObservations, delivered: dict[str, Use]) -> str:
    """The link's router, by MAC: the advertiser that delivered off-link traffic onto the link
    first; without one, a MAC that delivered such traffic while someone else advertised (the
    router does not advertise); without any, the first advertiser. "" when one station alone
    advertises and nothing says it is not the router."""
    routers = sorted(ndp.routers.values(), key=lambda router: (router.first_time, -router.count))
    routing = [router for router in routers if router.mac in delivered]
    if routing:
        return min(routing, key=lambda router: delivered[router.mac].first_time).mac
    if delivered:
        return min(delivered, key=lambda mac: delivered[mac].first_time)
    if len({router.mac for router in routers}) >= 2:
        return routers[0].mac
    return ""


def _router_facts(seen: Observations, ndp: NdpObservations) -> Iterator[dict[str, Any]]:
    if not ndp.routers:
        return
    delivered, first_hops = ndp.routing()
    link_mac = _link_router(ndp, delivered)
    link_routers = [router for router in ndp.routers.values() if router.mac == link_mac]
    link_prefixes = {prefix64(p) for router in link_routers for p in router.prefixes}
    link_address = link_routers[0].src if link_routers else ""
    for index, router in enumerate(ndp.routers.values()):
        own = {prefix64(p) for p in router.prefixes}
        other_prefixes = bool(own - link_prefixes)
        announces_default = router.max_lifetime > 0
        rogue = (bool(link_mac) and router.mac != link_mac and not is_fhrp_mac(router.mac)
                 and (announces_default or other_prefixes))
        yield {
            "kind": "ndp_router", "key": f"ndprouter:{index}", "src": router.src,
            "mac": router.mac, "dst": router.dst, "count": router.count,
            "frames": list(router.frames), "rogue": rogue,
            "router_lifetime": max(router.max_lifetime, 0), "lifetime": router.lifetime,
            "mtu": router.mtu, "prefixes": list(router.prefixes),
        }
        if rogue:
            yield _rogue_fact(ndp, router, index, link_address, own - link_prefixes,
                              delivered, first_hops)
        if router.withdrawn_time >= 0:
            yield _withdrawal_fact(seen, ndp, router, index)


def _rogue_fact(ndp: NdpObservations, router: Router, index: int, link_address: str,
                foreign: set[str], delivered: dict[str, Use], first_hops: dict[str, Use],
                ) -> dict[str, Any]:
    # Hosts that followed it: their off-link traffic sent to its MAC after its advertisement,
    # their probes for addresses in the prefixes only it announces.
    to_rogue = first_hops.get(router.mac)
    diverted = sorted(to_rogue.frames_after(router.first_time)) if to_rogue else []
    adopted = sorted(frame for target, probe in ndp.probes.items() if prefix64(target) in foreign
                     for frame, time in zip(probe.frames, probe.times, strict=True)
                     if time >= router.first_time)
    return {
        "kind": "ndp_rogue", "key": f"ndprogue:{index}", "src": router.src, "mac": router.mac,
        "router": link_address or ALL_NODES, "count": router.count,
        "frames": list(router.frames), "diverted_frames": diverted[:8],
        "adopted_frames": adopted[:8],
        "victims": sorted(to_rogue.senders) if to_rogue and diverted else [],
        "other_prefixes": bool(foreign), "announces_default": router.max_lifetime > 0,
        "routes_traffic": router.mac in delivered,
        "lifetime": router.max_lifetime, "mtu": router.mtu, "prefixes": list(router.prefixes),
    }


def _withdrawal_fact(seen: Observations, ndp: NdpObservations, router: Router,
                     index: int) -> dict[str, Any]:
    on_link = ndp.local_prefixes()
    failed = [service for service in seen.services.values()
              if ":" in service.dst and not service.replies
              and service.last_time >= router.withdrawn_time
              and not is_link_local(service.dst) and not is_multicast(service.dst)
              and prefix64(service.dst) not in on_link]
    withdrawn_frame = router.withdrawal_frames[0]
    failure_frames = sorted(frame for service in failed for frame in service.request_frames
                            if frame > withdrawn_frame)[:8]
    others = [other for other in ndp.routers.values()
              if other.mac != router.mac and other.lifetime > 0]
    offer = [router.offer_frame] if router.offer_frame >= 0 else []
    return {
        "kind": "ndp_withdrawal", "key": f"ndpzero:{index}", "src": router.src,
        "mac": router.mac, "dst": router.withdrawal_dst or ALL_NODES,
        "count": len(router.withdrawal_frames),
        "frames": offer + list(router.withdrawal_frames), "failure_frames": failure_frames,
        "failures_after": len(failed), "other_router": bool(others),
        "other_routers": sorted(other.src for other in others),
    }


def _redirect_facts(ndp: NdpObservations) -> Iterator[dict[str, Any]]:
    for index, redirect in enumerate(ndp.redirects.values()):
        yield _redirect_fact(ndp, redirect, index)


def _redirect_fact(ndp: NdpObservations, redirect: Redirect, index: int) -> dict[str, Any]:
    since = redirect.first_time
    host_macs = ndp.macs_of(redirect.host)
    solicited = sorted(
        frame for asker in ndp.askers_for.get(redirect.target, ())
        if asker == redirect.host
        or ndp.solicitations[(asker, redirect.target)].asker_mac in host_macs
        for frame, time in zip(ndp.solicitations[(asker, redirect.target)].frames,
                               ndp.solicitations[(asker, redirect.target)].times, strict=True)
        if time > since)
    # Where the host's traffic for the destination went: through which MACs, when.
    hops = ndp.hops.get((redirect.host, redirect.destination), {})
    target_macs = ndp.macs_of(redirect.target) | (
        {redirect.link_address} if redirect.link_address else set())
    direct = sorted(frame for mac in target_macs if mac in hops
                    for frame in hops[mac].frames_after(since))
    before = {mac for mac, use in hops.items() if use.first_time < since}
    via_router = hops.get(redirect.src_mac)
    return {
        "kind": "ndp_redirect", "key": f"ndpredirect:{index}", "src": redirect.src,
        "host": redirect.host, "destination": redirect.destination, "target": redirect.target,
        "count": redirect.count, "frames": list(redirect.frames),
        "span_us": microseconds(redirect.last_time - redirect.first_time),
        "solicited_new_hop": bool(solicited or direct),
        "heeded_frames": solicited[:1] + direct[:1],
        "target_is_destination": redirect.target == redirect.destination,
        # Unknown without the host's traffic in the capture: the router's repeated redirects
        # say it still receives it.
        "keeps_sending": (via_router is not None and via_router.last_time > since
                          if hops else True),
        "not_link_local": not is_link_local(redirect.src),
        "not_first_hop": bool(before) and bool(redirect.src_mac)
        and redirect.src_mac not in before,
        "hop_limit": redirect.hop_limit, "hop_limit_not_255": redirect.hop_limit != 255,
        "code": redirect.code,
        "bad_target": (not is_link_local(redirect.target)
                       and redirect.target != redirect.destination),
    }


# --- the rules -----------------------------------------------------------------------------


def define(kb: KnowledgeBase, api: RuleApi) -> None:
    finding, evidence = api.finding, api.evidence
    repeats = kb.threshold("ndp.unanswered", "repeats_mean_no_answer")
    reply_window_us = kb.threshold("ndp.unanswered", "reply_window_s") * 1_000_000
    min_redirects = kb.threshold("ndp.redirect.ignored", "min_redirects")
    min_span_us = kb.threshold("ndp.redirect.ignored", "min_span_s") * 1_000_000

    @when_all(
        c.finding << (m.kind == "finding") & (m.condition == "icmp6.unreachable.address"),
        c.query << (m.kind == "ndp_query") & (m.target == c.finding.dst),
    )
    def address_unreachable(c):
        query = c.query
        if query.replies:
            evidence(c, ADDRESS_UNREACHABLE, c.finding.fid, features={"ndp_answered": True},
                     frames=query.reply_frames[:2], tag=query.key)
        else:
            evidence(c, ADDRESS_UNREACHABLE, c.finding.fid, "ndp-unanswered-for-address",
                     {"ndp_unanswered": True}, frames=query.request_frames, tag=query.key)

    @when_all(
        c.finding << (m.kind == "finding") & (m.condition == "icmp6.echo.no-reply"),
        c.query << (m.kind == "ndp_query") & (m.target == c.finding.dst),
    )
    def echo_target(c):
        query = c.query
        if query.replies:
            evidence(c, ECHO_TARGET, c.finding.fid, "target-ndp-answered",
                     {"ndp_answered": True}, frames=query.reply_frames[:2], tag=query.key)
        else:
            evidence(c, ECHO_TARGET, c.finding.fid, "target-ndp-unanswered",
                     {"ndp_unanswered": True}, frames=query.request_frames, tag=query.key)

    @when_all(
        c.query << (m.kind == "ndp_query") & (m.replies == 0),
        m.kind == "end",
        # The router's address unreachable already tells this story, with these frames.
        none((m.kind == "finding") & (m.condition == "icmp6.unreachable.address")
             & (m.dst == c.query.target)),
    )
    def unanswered(c):
        query = c.query
        if query.end_time_us - query.first_time_us < reply_window_us:
            return  # the capture ended before an answer was due
        if query.target_seen and not query.asker_answered and query.solicitations < repeats:
            # The target is alive here and no advertisement to the asker is in sight: its
            # unicast answer went past this capture point.
            return
        fid = finding(
            c, UNANSWERED, query.key, "ndp.unanswered", src=query.asker, dst=query.target,
            reporter=query.asker, proto="icmpv6", frames=query.request_frames,
            count=query.solicitations, details={"mac": query.asker_mac},
            features={"solicitations": query.solicitations,
                      "asker_answered": query.asker_answered, "target_seen": query.target_seen},
        )
        if query.solicitations >= repeats:
            evidence(c, UNANSWERED, fid, "solicited-again")
        elif not query.asker_answered:
            evidence(c, UNANSWERED, fid, "advertisements-invisible")

    @when_all(m.kind == "ndp_duplicate")
    def duplicate(c):
        claim = c.m  # once: each c.m is a fresh wrapper around the fact
        fid = finding(
            c, DUPLICATE, claim.key, "ndp.duplicate-address", src=claim.ip, dst=claim.ip,
            reporter=claim.ip, proto="icmpv6", frames=claim.frames, count=claim.count,
            details={"ip": claim.ip, "macs": ", ".join(claim.macs)},
            features={"dad": claim.dad, "fhrp_mac": claim.fhrp_mac,
                      "alternating": claim.alternating, "link_addresses": len(claim.macs),
                      "override": claim.override},
        )
        if claim.fhrp_mac:
            evidence(c, DUPLICATE, fid, "fhrp-virtual-mac")

    @when_all((m.kind == "ndp_router") & (m.rogue == False))  # noqa: E712
    def advertisement(c):
        router = c.m
        finding(
            c, ADVERTISEMENT, router.key, "ndp.router-advertisement", src=router.src,
            dst=router.dst, reporter=router.src, proto="icmpv6", frames=router.frames,
            count=router.count, details=_advertised(router),
            features={"router_lifetime": router.router_lifetime, "mtu_option": router.mtu,
                      "prefix_count": len(router.prefixes)},
        )

    @when_all(m.kind == "ndp_rogue")
    def rogue(c):
        rogue = c.m
        fid = finding(
            c, ROGUE, rogue.key, "ndp.rogue-router", src=rogue.src, dst=rogue.router,
            reporter=rogue.src, proto="icmpv6",
            frames=sorted({*rogue.frames, *rogue.adopted_frames, *rogue.diverted_frames}),
            count=rogue.count,
            details={**_advertised(rogue), "mac": rogue.mac, "router": rogue.router,
                     "victims": ", ".join(rogue.victims) or "none seen"},
            features={"other_prefixes": rogue.other_prefixes,
                      "announces_default": rogue.announces_default,
                      "routes_traffic": rogue.routes_traffic},
        )
        if rogue.routes_traffic:
            evidence(c, ROGUE, fid, "advertiser-routes-traffic")
        if rogue.diverted_frames:
            evidence(c, ROGUE, fid, "traffic-to-rogue")
        if rogue.adopted_frames:
            evidence(c, ROGUE, fid, "rogue-prefix-adopted")

    @when_all(m.kind == "ndp_withdrawal")
    def withdrawn(c):
        zero = c.m
        fid = finding(
            c, WITHDRAWN, zero.key, "ndp.router-lifetime-zero", src=zero.src, dst=zero.dst,
            reporter=zero.src, proto="icmpv6", frames=[*zero.frames, *zero.failure_frames],
            count=zero.count,
            details={"mac": zero.mac,
                     "other_routers": ", ".join(zero.other_routers) or "none"},
            features={"failures_after": zero.failures_after, "other_router": zero.other_router},
        )
        if zero.failures_after:
            evidence(c, WITHDRAWN, fid, "failures-after-withdrawal")
        if zero.other_router:
            evidence(c, WITHDRAWN, fid, "other-router-remains")

    @when_all(m.kind == "ndp_redirect")
    def redirect(c):
        # One finding per group, the most specific: invalid (hosts discard it), else ignored,
        # else the plain redirect, heeded or not.
        group = c.m
        subject = {"src": group.host, "dst": group.destination, "reporter": group.src,
                   "proto": "icmpv6", "count": group.count,
                   "details": {"gateway": group.target, "hop_limit": group.hop_limit,
                               "code": group.code}}
        checks = {"not_link_local": group.not_link_local, "not_first_hop": group.not_first_hop,
                  "hop_limit_not_255": group.hop_limit_not_255, "bad_target": group.bad_target}
        if any(checks.values()) or group.code:
            failed = [_FAILED[name] for name, value in checks.items() if value]
            failed += [f"code {group.code}, not 0"] if group.code else []
            subject["details"] = {**subject["details"], "failed": "; ".join(failed)}
            finding(c, INVALID, group.key, "ndp.redirect.invalid", frames=group.frames,
                    features=checks, **subject)
            return
        features = {"solicited_new_hop": group.solicited_new_hop,
                    "target_is_destination": group.target_is_destination}
        if (group.count >= min_redirects and group.span_us >= min_span_us
                and group.keeps_sending):
            finding(c, IGNORED, group.key, "ndp.redirect.ignored", frames=group.frames,
                    features=features, **subject)
            return
        fid = finding(c, REDIRECT, group.key, "ndp.redirect",
                      frames=[*group.frames, *group.heeded_frames], features=features,
                      **subject)
        if group.solicited_new_hop:
            evidence(c, REDIRECT, fid, "new-first-hop-used", frames=group.heeded_frames)


_FAILED = {"not_link_local": "source not link-local", "not_first_hop": "not the host's first hop",
           "hop_limit_not_255": "hop limit not 255", "bad_target": "target neither link-local "
           "nor the destination"}


def _advertised(router) -> dict[str, Any]:
    return {"prefixes": ", ".join(router.prefixes) or "none",
            "link_mtu": router.mtu or "none", "lifetime": router.lifetime}
