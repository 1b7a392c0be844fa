"""Time Exceeded (type 11): traceroute probes reported as a path, and routing loops, seen either
as the same datagram passing again with less TTL or as a normal datagram running out of TTL."""

from __future__ import annotations

from durable.lang import c, m, when_all

from netwhy.expert.registry import Rule
from netwhy.expert.rule_api import RuleApi
from netwhy.kb import KnowledgeBase

RULES = (
    Rule("time-exceeded.traceroute",
         "Time-exceeded answers to traceroute probes: a path, not a fault",
         ("icmp.ttl-exceeded",)),
    Rule("traceroute.final-hop",
         "A port unreachable for a traceroute probe from its destination: the trace arrived",
         ("icmp.unreachable.port",)),
    Rule("time-exceeded.normal-ttl-ran-out",
         "A datagram that left with an ordinary TTL ran out of it: it went round a loop",
         ("icmp.routing-loop",)),
    Rule("routing-loop.sighting",
         "The same datagram passes the capture point again and again, each time with less TTL",
         ("icmp.routing-loop",)),
)
TRACEROUTE, FINAL_HOP, LOOP_BY_TTL, LOOP_SEEN = (rule.id for rule in RULES)
# What these rules attach to a finding for the knowledge base's `when` clauses.
FEATURES = {
    "origin_ttl": ("int", "TTL the failed datagram left its source with, when the capture saw it"),
    "traceroute": ("bool", "the quoted datagrams look like traceroute probes"),
    "loop_sighting": ("bool", "the same datagram passed the capture point again with a lower TTL"),
}
TERMS = (  # evidence terms, weighed in kb/evidence.yaml
    "traceroute-probe", "traceroute-final-hop",
)
# Classic traceroute aims UDP probes at ports 33434 and up (one per probe).
TRACEROUTE_PORTS = range(33434, 33535)
_TTL_EXCEEDED = (
    c.finding << (m.kind == "finding") & (m.condition == "icmp.ttl-exceeded"),
    c.error << (m.kind == "error") & (m.key == c.finding.origin),
)


def define(kb: KnowledgeBase, api: RuleApi) -> None:
    finding, evidence = api.finding, api.evidence
    min_origin_ttl = kb.threshold("icmp.routing-loop", "min_origin_ttl")
    min_passes = kb.threshold("icmp.routing-loop", "min_passes")

    @when_all(*_TTL_EXCEEDED)
    def probe_or_loop(c):
        error = c.error
        probe = (error.q_proto == "udp" and error.q_dport in TRACEROUTE_PORTS) or (
            0 < error.origin_ttl < min_origin_ttl)
        features = {"origin_ttl": error.origin_ttl, "traceroute": probe}
        if probe:
            evidence(c, TRACEROUTE, c.finding.fid, "traceroute-probe", features)
        elif error.origin_ttl >= min_origin_ttl:
            finding(
                c, LOOP_BY_TTL, error.key, "icmp.routing-loop", src=error.q_src,
                dst=error.q_dst, reporter=error.sender, proto=error.q_proto, frames=error.frames,
                count=error.count, features=features,
            )
            evidence(c, LOOP_BY_TTL, c.finding.fid, supersedes=True)
        else:
            evidence(c, TRACEROUTE, c.finding.fid, features=features)

    @when_all(
        c.finding << (m.kind == "finding") & (m.condition == "icmp.unreachable.port"),
        c.error << (m.kind == "error") & (m.key == c.finding.origin) & (m.q_proto == "udp"),
        c.trace << (m.kind == "finding") & (m.condition == "icmp.ttl-exceeded")
        & (m.src == c.finding.src) & (m.dst == c.finding.dst),
        c.probe << (m.kind == "service") & (m.proto == "udp") & (m.src == c.error.q_src)
        & (m.dst == c.error.q_dst) & (m.dport == c.error.q_dport),
    )
    def final_hop(c):
        if c.error.q_dport in TRACEROUTE_PORTS:
            # The trace arrived: its last answer joins the path, not a fault of its own.
            evidence(c, FINAL_HOP, c.trace.fid, frames=c.error.frames, cid=c.probe.cid,
                     details={"arrived": c.error.sender}, tag=c.finding.fid)
            evidence(c, FINAL_HOP, c.finding.fid, "traceroute-final-hop", {"traceroute": True},
                     supersedes=True, tag=c.trace.fid)

    @when_all((m.kind == "loop_sighting") & (m.passes >= min_passes))
    def sighting(c):
        finding(
            c, LOOP_SEEN, c.m.key, "icmp.routing-loop", src=c.m.src, dst=c.m.dst,
            reporter="", proto=c.m.proto, frames=c.m.frames, count=c.m.passes,
            details={"ttls": f"{c.m.first_ttl} down to {c.m.last_ttl}"},
            features={"loop_sighting": True, "origin_ttl": c.m.first_ttl},
        )
