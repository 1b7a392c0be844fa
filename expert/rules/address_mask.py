"""A station with the wrong address mask, from what it does on the wire: ARPing for remote
addresses (answered by proxy ARP, or not at all), or sending on-link traffic to a router that
redirects it to the destination itself."""

from __future__ import annotations

from durable.lang import c, m, when_all

from netwhy.expert.registry import Rule
from netwhy.expert.rule_api import RuleApi
from netwhy.kb import KnowledgeBase

RULES = (
    Rule("mask.concealed-by-proxy-arp",
         "A station ARPs for an off-subnet address and a proxy ARP router answers for it",
         ("arp.mask-misconfig",)),
    Rule("mask.arps-for-remote",
         "A station ARPs, unanswered, for an address outside its subnet",
         ("arp.mask-misconfig",)),
    Rule("mask.redirected-to-destination",
         "The router redirects a station to the destination itself: it was on the station's wire",
         ("arp.mask-misconfig",)),
)
PROXY_CONCEALS, UNANSWERED_REMOTE, REDIRECT_TO_DESTINATION = (rule.id for rule in RULES)
# What these rules attach to a finding for the knowledge base's `when` clauses.
FEATURES = {
    "proxy_concealed": ("bool",
                        "proxy ARP answered a station that ARPed for an off-subnet address"),
    "unanswered_off_subnet": ("bool",
                              "a station ARPs, unanswered, for addresses outside its subnet"),
    "redirect_to_destination": ("bool",
                                "the router redirected a station to a destination on its own wire"),
}


def define(kb: KnowledgeBase, api: RuleApi) -> None:
    finding = api.finding
    widest_mask = kb.threshold("arp.proxy", "widest_mask_bits")

    @when_all(
        c.query << (m.kind == "arp_query") & (m.off_subnet == True) & (m.replies > 0),  # noqa: E712
        c.proxy << (m.kind == "finding") & (m.condition == "arp.proxy"),
    )
    def concealed(c):
        if c.query.target not in c.proxy.dst or c.query.shared_prefix < widest_mask:
            return  # no mask makes those neighbours: an on-link route or no gateway at all
        finding(
            c, PROXY_CONCEALS, c.query.key, "arp.mask-misconfig", src=c.query.asker_ip,
            dst=c.query.target, reporter=c.query.asker_ip, proto="arp",
            frames=c.query.request_frames[:2] + c.query.reply_frames[:2],
            details={"mac": c.query.asker_mac, "proxy": c.proxy.src},
            features={"proxy_concealed": True},
        )

    @when_all(
        (m.kind == "arp_query") & (m.off_subnet == True) & (m.replies == 0)  # noqa: E712
        & (m.target_answers_others == True)  # noqa: E712
    )
    def arps_for_remote(c):
        # The target exists (it answers others) yet nobody answers ARP for it here: it is not
        # on this wire, and only a mask wider than the segment makes the station ask.
        finding(
            c, UNANSWERED_REMOTE, c.m.key, "arp.mask-misconfig", src=c.m.asker_ip,
            dst=c.m.target, reporter=c.m.asker_ip, proto="arp", frames=c.m.request_frames,
            count=c.m.requests, details={"mac": c.m.asker_mac},
            features={"unanswered_off_subnet": True},
        )

    @when_all(c.redirect << (m.kind == "error") & (m.error_kind == "redirect"))
    def redirected_to_destination(c):
        error = c.redirect
        if error.gateway != error.q_dst:
            return
        finding(
            c, REDIRECT_TO_DESTINATION, error.key, "arp.mask-misconfig", src=error.q_src,
            dst=error.q_dst, reporter=error.q_src, proto=error.q_proto, frames=error.frames,
            count=error.count, details={"gateway": error.gateway},
            features={"redirect_to_destination": True},
        )
