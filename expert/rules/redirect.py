"""Redirect (type 5): heeded, ignored (the router keeps redirecting the same station), or
invalid (RFC 1122 3.2.2.2 and RFC 1812 5.2.7.2 tell hosts to discard it)."""

from __future__ import annotations

from durable.lang import c, m, none, when_all

from netwhy.expert.addresses import same_subnet
from netwhy.expert.registry import Rule
from netwhy.expert.rule_api import RuleApi
from netwhy.kb import KnowledgeBase

RULES = (
    Rule("redirect.heeded",
         "After a redirect the station resolves the new gateway: it took the advice",
         ("icmp.redirect",)),
    Rule("redirect.ignored",
         "The router keeps redirecting the same station for the same destination: it is ignored",
         ("icmp.redirect.ignored",)),
    Rule("redirect.invalid",
         "A redirect whose gateway is off the receiver's subnet, or whose sender is not its "
         "first hop",
         ("icmp.redirect.invalid",)),
)
HEEDED, IGNORED, INVALID = (rule.id for rule in RULES)
# What these rules attach to a finding for the knowledge base's `when` clauses.
FEATURES = {
    "heeded": ("bool", "the redirected station ARPed for the new gateway afterwards"),
    "gateway_is_destination": ("bool", "a redirect names the destination itself as the "
                                       "gateway (it is on-link)"),
    "span_s": ("number", "seconds between the first and last message of the group"),
    "gateway_off_subnet": ("bool", "a redirect's new gateway is not on the receiver's subnet"),
    "sender_not_first_hop": ("bool",
                             "a redirect came from a router the station was not sending through"),
}
# Features they attach too, declared by the module that owns them.
SHARED_FEATURES = ("code", "count")
TERMS = (  # evidence terms, weighed in kb/evidence.yaml
    "redirect-heeded",
)
_REDIRECT = (
    c.finding << (m.kind == "finding") & (m.condition == "icmp.redirect"),
    c.error << (m.kind == "error") & (m.key == c.finding.origin),
)


def define(kb: KnowledgeBase, api: RuleApi) -> None:
    finding, evidence = api.finding, api.evidence
    min_redirects = kb.threshold("icmp.redirect.ignored", "min_redirects")
    min_span_us = kb.threshold("icmp.redirect.ignored", "min_span_s") * 1_000_000

    @when_all(
        *_REDIRECT,
        c.arp << (m.kind == "arp_query") & (m.asker_ip == c.error.receiver)
        & (m.target == c.error.gateway) & (m.last_time_us > c.error.first_time_us),
    )
    def heeded(c):
        evidence(c, HEEDED, c.finding.fid, "redirect-heeded", {"heeded": True},
                 frames=c.arp.request_frames[-1:] + c.arp.reply_frames[-1:])

    @when_all(*_REDIRECT, m.kind == "end")
    def ignored(c):
        error = c.error
        features = {"gateway_is_destination": error.gateway == error.q_dst, "code": error.code,
                    "count": error.count, "span_s": round(error.span_us / 1_000_000, 3)}
        evidence(c, HEEDED, c.finding.fid, features=features)
        if error.count >= min_redirects and error.span_us >= min_span_us:
            finding(
                c, IGNORED, error.key, "icmp.redirect.ignored", src=error.q_src,
                dst=error.q_dst, reporter=error.sender, proto=error.q_proto, frames=error.frames,
                count=error.count, details={"gateway": error.gateway}, features=features,
            )
            evidence(c, IGNORED, c.finding.fid, supersedes=True)

    @when_all(
        *_REDIRECT,
        m.kind == "end",
        # The station resolves neighbours in this capture (else its ARP cache hides its
        # first hop from us, and nothing can be concluded) ...
        c.asker << (m.kind == "arp_asker") & (m.ip == c.error.receiver),
        # ... but never the redirect's sender.
        none((m.kind == "arp_query") & (m.asker_ip == c.error.receiver)
             & (m.target == c.error.sender)),
    )
    def sender_never_resolved(c):
        # A station's first hop is a neighbour it resolved; a redirect from one it never
        # resolved did not come from the router it was sending through.
        _invalid(api, c, c.error, "sender-not-first-hop", sender_not_first_hop=True)

    @when_all(*_REDIRECT, m.kind == "end")
    def gateway_off_subnet(c):
        if c.error.gateway and not same_subnet(c.error.gateway, c.error.receiver):
            _invalid(api, c, c.error, "gateway-off-subnet", gateway_off_subnet=True)


def _invalid(api: RuleApi, c, error, why: str, **features: bool) -> None:
    api.finding(
        c, INVALID, error.key, "icmp.redirect.invalid", src=error.q_src, dst=error.q_dst,
        reporter=error.sender, proto=error.q_proto, frames=error.frames, count=error.count,
        details={"gateway": error.gateway}, features=features, tag=why,
    )
    api.evidence(c, INVALID, c.finding.fid, supersedes=True, tag=why)
