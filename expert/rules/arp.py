"""ARP (RFC 826): unanswered requests, proxy ARP (RFC 1027), two MACs for one address,
spoofed claims, gratuitous announcements and probes (RFC 5227), and request storms."""

from __future__ import annotations

from durable.lang import c, m, none, when_all

from netwhy.expert.arp_spoofing import is_virtual
from netwhy.expert.registry import Rule
from netwhy.expert.rule_api import RuleApi
from netwhy.kb import KnowledgeBase

RULES = (
    Rule("arp.unanswered",
         "ARP requests for an address that nobody answered",
         ("arp.unanswered",)),
    Rule("arp.explains-host-unreachable",
         "A router's host unreachable and its own unanswered ARP for that host: one diagnosis",
         ("icmp.unreachable.host",)),
    Rule("arp.proxy",
         "One MAC answers ARP for addresses that are not its own",
         ("arp.proxy",)),
    Rule("arp.duplicate-ip",
         "Two or more MACs claim the same IPv4 address",
         ("arp.duplicate-ip",)),
    Rule("arp.spoofing",
         "A MAC claims an address another MAC holds, with unsolicited replies or against the "
         "MAC that routes the segment's traffic",
         ("arp.spoofing",)),
    Rule("arp.gratuitous",
         "Gratuitous ARP announcements and RFC 5227 probes",
         ("arp.gratuitous",)),
    Rule("arp.storm",
         "A station sends ARP requests far faster than normal",
         ("arp.storm",)),
)
UNANSWERED, HOST_DOWN, PROXY, DUPLICATE, SPOOFING, GRATUITOUS, STORM = (rule.id for rule in RULES)
# What these rules attach to a finding for the knowledge base's `when` clauses.
FEATURES = {
    "arp_unanswered": ("bool", "the capture shows unanswered ARP requests for the destination"),
    "arp_answered": ("bool", "the destination's MAC address was resolved in the capture"),
    "requests": ("int", "requests sent"),
    "asker_replies_seen": ("bool",
                           "the capture shows ARP replies to this asker (it sees replies at all)"),
    "target_off_subnet": ("bool", "the ARP target is outside the asker's apparent subnet"),
    "foreign_ips": ("int", "addresses one MAC answered ARP for besides its own"),
    "unlinkable": ("bool", "an asker and the address it asked for share no plausible subnet"),
    "answers_gateway": ("bool", "that MAC also answers for the asker's gateway"),
    "macs": ("int", "MAC addresses claiming one IP address"),
    "virtual_mac": ("bool", "the MACs are VRRP, HSRP or GLBP virtual router addresses"),
    "interleaved": ("bool", "the claims alternate in time (a live conflict, not a replaced card)"),
    "takeover": ("bool", "each MAC took the address over from one that then fell quiet"),
    "unsolicited": ("int", "ARP replies about the address that answered no request"),
    "contradicts_router": ("bool", "the claim contradicts the MAC that routes remote traffic"),
    "claims_several": ("bool", "the claimant claims several addresses other MACs hold"),
    "traffic_diverted": ("bool", "stations' remote traffic went to the claimant after its claim"),
    "relays": ("bool", "the claimant passed that traffic on to the address's real holder"),
    "probe": ("bool", "an RFC 5227 probe (sender address 0.0.0.0)"),
    "conflict": ("bool", "a gratuitous ARP announces an address another MAC holds"),
    "peak_rate": ("number", "ARP requests per second from one station, at its busiest"),
    "distinct_targets": ("int", "distinct addresses those requests asked for"),
    "sequential_targets": ("bool", "the targets walk through consecutive addresses (a sweep)"),
}
TERMS = (  # evidence terms, weighed in kb/evidence.yaml
    "arp-unanswered-for-host", "asked-again", "replies-invisible", "virtual-router-mac",
    "announces-claimed-address", "address-taken-over", "unsolicited-arp-replies",
    "claim-contradicts-router", "claims-several-addresses", "traffic-through-claimant",
    "relays-to-holder",
)


def define(kb: KnowledgeBase, api: RuleApi) -> None:
    finding, evidence = api.finding, api.evidence
    storm_requests = kb.threshold("arp.storm", "requests_per_window")
    storm_window = kb.threshold("arp.storm", "window_s")
    min_foreign = kb.threshold("arp.proxy", "min_foreign_ips")
    widest_mask = kb.threshold("arp.proxy", "widest_mask_bits")
    repeats = kb.threshold("arp.unanswered", "repeats_mean_no_answer")
    reply_window_us = kb.threshold("arp.unanswered", "reply_window_s") * 1_000_000

    @when_all(
        c.finding << (m.kind == "finding") & (m.condition == "icmp.unreachable.host"),
        c.arp << (m.kind == "arp_query") & (m.target == c.finding.dst) & (m.replies == 0),
    )
    def host_unreachable_with_arp(c):
        evidence(c, HOST_DOWN, c.finding.fid, "arp-unanswered-for-host",
                 {"arp_unanswered": True}, frames=c.arp.request_frames)

    @when_all(
        c.query << (m.kind == "arp_query") & (m.replies == 0),
        m.kind == "end",
        # The router's host unreachable already tells this story, with these frames.
        none((m.kind == "finding") & (m.condition == "icmp.unreachable.host")
             & (m.dst == c.query.target)),
        # A sweep's thousand unanswered requests are one storm, not a thousand findings.
        none((m.kind == "arp_asker") & (m.mac == c.query.asker_mac)
             & (m.peak >= storm_requests)),
    )
    def unanswered(c):
        query = c.query
        if query.end_time_us - query.first_time_us < reply_window_us:
            return  # the capture ended before an answer was due
        if query.target_seen and not query.asker_answered:
            # The target speaks ARP in this capture, and the asker's replies are all out of
            # sight: the answer went by unicast past this capture point.
            return
        fid = finding(
            c, UNANSWERED, query.key, "arp.unanswered", src=query.asker_ip, dst=query.target,
            reporter=query.asker_ip, proto="arp", frames=query.request_frames,
            count=query.requests, details={"mac": query.asker_mac},
            features={"requests": query.requests, "asker_replies_seen": query.asker_answered,
                      "target_off_subnet": query.off_subnet},
        )
        if query.requests >= repeats:
            evidence(c, UNANSWERED, fid, "asked-again")
        elif not query.asker_answered:
            evidence(c, UNANSWERED, fid, "replies-invisible")

    # One answer is enough when asker and address cannot share a link under any plausible
    # mask (10.1.2.11 asking for 192.0.2.1): only a proxy can have answered.
    @when_all((m.kind == "arp_responder") & (m.foreign_ips > 0)
              & ((m.foreign_ips >= min_foreign) | (m.shared_prefix < widest_mask)))
    def proxy(c):
        responder = c.m  # once: each c.m is a fresh wrapper around the fact
        own = responder.own[0] if responder.own else responder.mac
        finding(
            c, PROXY, responder.key, "arp.proxy", src=own, dst=responder.foreign,
            reporter=own, proto="arp", frames=responder.frames, count=responder.foreign_ips,
            details={"mac": responder.mac, "ips": ", ".join(responder.foreign)},
            # It also answers for an address on the askers' own subnet: their router.
            features={"foreign_ips": responder.foreign_ips,
                      "answers_gateway": bool(responder.own),
                      "unlinkable": responder.shared_prefix < widest_mask},
        )

    @when_all(
        c.claim << (m.kind == "arp_claim"),
        m.kind == "end",
        # A spoofed claim is reported as arp.spoofing, with these frames, not also as a conflict.
        none((m.kind == "arp_spoof") & (m.ip == c.claim.ip)),
    )
    def duplicate(c):
        claim = c.claim
        virtual = all(is_virtual(mac) for mac in claim.macs)
        fid = finding(
            c, DUPLICATE, claim.key, "arp.duplicate-ip", src=claim.ip, dst=claim.ip,
            reporter=claim.ip, proto="arp", frames=claim.frames, count=len(claim.macs),
            details={"ip": claim.ip, "macs": ", ".join(claim.macs)},
            features={"macs": len(claim.macs), "virtual_mac": virtual,
                      "interleaved": claim.interleaved, "takeover": claim.takeover},
        )
        if virtual:
            evidence(c, DUPLICATE, fid, "virtual-router-mac")
        if claim.takeover:
            evidence(c, DUPLICATE, fid, "address-taken-over")

    @when_all(m.kind == "arp_spoof")
    def spoofing(c):
        spoof = c.m
        claimant = spoof.claimant_ips[0] if spoof.claimant_ips else spoof.mac
        victims = list(spoof.victims)
        fid = finding(
            c, SPOOFING, spoof.key, "arp.spoofing", src=claimant, dst=spoof.ip,
            reporter=claimant, proto="arp", frames=spoof.frames,
            count=max(spoof.unsolicited, 1),
            details={"ip": spoof.ip, "mac": spoof.mac, "holder": spoof.holder,
                     "claimant_ips": ", ".join(spoof.claimant_ips) or "none seen",
                     "victims": ", ".join(victims) or "none seen"},
            features={"unsolicited": spoof.unsolicited,
                      "contradicts_router": spoof.contradicts_router,
                      "claims_several": len(spoof.claimed) > 1,
                      "traffic_diverted": spoof.diverted > 0, "relays": spoof.relayed > 0},
        )
        if spoof.unsolicited:
            evidence(c, SPOOFING, fid, "unsolicited-arp-replies")
        if spoof.contradicts_router:
            evidence(c, SPOOFING, fid, "claim-contradicts-router")
        if len(spoof.claimed) > 1:
            evidence(c, SPOOFING, fid, "claims-several-addresses")
        if spoof.diverted:
            evidence(c, SPOOFING, fid, "traffic-through-claimant")
        if spoof.relayed:
            evidence(c, SPOOFING, fid, "relays-to-holder")

    @when_all(m.kind == "arp_announcement")
    def gratuitous(c):
        announcement = c.m
        finding(
            c, GRATUITOUS, announcement.key, "arp.gratuitous", src=announcement.ip,
            dst=announcement.ip, reporter=announcement.ip, proto="arp",
            frames=announcement.frames, count=announcement.count,
            details={"ip": announcement.ip, "mac": announcement.mac},
            features={"probe": announcement.probe, "conflict": False,
                      "virtual_mac": is_virtual(announcement.mac)},
        )

    @when_all(
        c.finding << (m.kind == "finding") & (m.condition == "arp.gratuitous"),
        # A card replaced, or a failover: one MAC after the other, no contest.
        c.claim << (m.kind == "arp_claim") & (m.ip == c.finding.src) & (m.takeover == False),  # noqa: E712
    )
    def gratuitous_conflict(c):
        evidence(c, GRATUITOUS, c.finding.fid, "announces-claimed-address", {"conflict": True},
                 frames=c.claim.frames)

    @when_all((m.kind == "arp_asker") & (m.peak >= storm_requests))
    def storm(c):
        rate = round(c.m.peak / storm_window, 1)
        at_least = "at least " if c.m.more else ""  # past the number of targets kept
        finding(
            c, STORM, c.m.key, "arp.storm", src=c.m.ip, dst=f"{at_least}{c.m.distinct} addresses",
            reporter=c.m.ip, proto="arp", frames=c.m.frames, count=c.m.requests,
            details={"rate": rate, "mac": c.m.mac, "targets": c.m.distinct},
            features={"peak_rate": rate, "distinct_targets": c.m.distinct,
                      "sequential_targets": c.m.sequential},
        )
