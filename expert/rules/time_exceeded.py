"""Time Exceeded (ICMP type 11, ICMPv6 type 3): traceroute probes reported as a path, and
routing loops, seen either as the same datagram passing again with less TTL (hop limit) or as a
normal datagram running out of it."""

from __future__ import annotations

from dataclasses import dataclass

from durable.lang import c, m, none, when_all

from netwhy.expert.registry import Rule
from netwhy.expert.rule_api import RuleApi
from netwhy.kb import KnowledgeBase


@dataclass(frozen=True)
class _Family:
    """The conditions of one family's story: the same rules tell both."""

    family: int
    exceeded: str
    loop: str
    port_unreachable: str


FAMILIES = (
    _Family(4, "icmp.ttl-exceeded", "icmp.routing-loop", "icmp.unreachable.port"),
    _Family(6, "icmp6.hop-limit-exceeded", "icmp6.routing-loop", "icmp6.unreachable.port"),
)
_EXCEEDED = tuple(f.exceeded for f in FAMILIES)
_LOOPS = tuple(f.loop for f in FAMILIES)

RULES = (
    Rule("time-exceeded.traceroute",
         "Time-exceeded answers to traceroute probes: a path, not a fault",
         _EXCEEDED),
    Rule("traceroute.final-hop",
         "A port unreachable for a traceroute probe from its destination: the trace arrived",
         tuple(f.port_unreachable for f in FAMILIES)),
    Rule("time-exceeded.normal-ttl-ran-out",
         "A datagram that left with an ordinary TTL ran out of it: it went round a loop",
         _LOOPS),
    Rule("routing-loop.sighting",
         "The same datagram passes the capture point again and again, each time with less TTL",
         _LOOPS),
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


def define(kb: KnowledgeBase, api: RuleApi) -> None:
    # Per family: the TTL (hop limit) below which a datagram left as a probe, and the passes
    # of one datagram that make a loop.
    limits = {4: (kb.threshold("icmp.routing-loop", "min_origin_ttl"),
                  kb.threshold("icmp.routing-loop", "min_passes")),
              6: (kb.threshold("icmp6.routing-loop", "min_origin_hop_limit"),
                  kb.threshold("icmp6.routing-loop", "min_passes"))}
    for family in FAMILIES:
        _define(api, family, *limits[family.family])


def _define(api: RuleApi, family: _Family, min_origin_ttl: int, min_passes: int) -> None:
    finding, evidence = api.finding, api.evidence
    loop_condition = family.loop  # a local: the rules' closures hold this family's

    @when_all(
        c.finding << (m.kind == "finding") & (m.condition == family.exceeded),
        c.error << (m.kind == "error") & (m.key == c.finding.origin),
    )
    def probe_or_loop(c):
        error = c.error
        probe = (error.q_proto == "udp" and error.q_dport in TRACEROUTE_PORTS) or (
            0 < error.origin_ttl < min_origin_ttl)
        features = {"origin_ttl": error.origin_ttl, "traceroute": probe}
        if probe:
            evidence(c, TRACEROUTE, c.finding.fid, "traceroute-probe", features)
        elif error.origin_ttl >= min_origin_ttl:
            finding(
                c, LOOP_BY_TTL, error.key, loop_condition, src=error.q_src,
                dst=error.q_dst, reporter=error.sender, proto=error.q_proto, frames=error.frames,
                count=error.count, features=features,
            )
            evidence(c, LOOP_BY_TTL, c.finding.fid, supersedes=True)
        else:
            evidence(c, TRACEROUTE, c.finding.fid, features=features)

    final_hop_joins = (
        c.finding << (m.kind == "finding") & (m.condition == family.port_unreachable),
        c.error << (m.kind == "error") & (m.key == c.finding.origin) & (m.q_proto == "udp"),
        c.trace << (m.kind == "finding") & (m.condition == family.exceeded)
        & (m.src == c.finding.src) & (m.dst == c.finding.dst),
    )

    def arrived(c, cid: int) -> None:
        if c.error.q_dport in TRACEROUTE_PORTS:
            # The trace arrived: its last answer joins the path, not a fault of its own.
            evidence(c, FINAL_HOP, c.trace.fid, frames=c.error.frames, cid=cid,
                     details={"arrived": c.error.sender}, tag=c.finding.fid)
            evidence(c, FINAL_HOP, c.finding.fid, "traceroute-final-hop", {"traceroute": True},
                     supersedes=True, tag=c.trace.fid)

    @when_all(
        *final_hop_joins,
        c.probe << (m.kind == "service") & (m.proto == "udp") & (m.src == c.error.q_src)
        & (m.dst == c.error.q_dst) & (m.dport == c.error.q_dport),
    )
    def final_hop(c):
        arrived(c, c.probe.cid)

    @when_all(
        *final_hop_joins,
        none((m.kind == "service") & (m.proto == "udp") & (m.src == c.error.q_src)
             & (m.dst == c.error.q_dst) & (m.dport == c.error.q_dport)),
    )
    def final_hop_probe_unseen(c):
        # A capture of ICMP alone (or of the return path) holds the trace's answers without
        # its probes: the same path's time exceededs still say what the answer ends.
        arrived(c, -1)

    @when_all((m.kind == "loop_sighting") & (m.family == family.family)
              & (m.passes >= min_passes))
    def sighting(c):
        finding(
            c, LOOP_SEEN, c.m.key, loop_condition, src=c.m.src, dst=c.m.dst,
            reporter="", proto=c.m.proto, frames=c.m.frames, count=c.m.passes,
            details={"ttls": f"{c.m.first_ttl} down to {c.m.last_ttl}"},
            features={"loop_sighting": True, "origin_ttl": c.m.first_ttl},
        )
