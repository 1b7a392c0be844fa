"""Many closed UDP ports on one host, probed by one source: one sweep, not a port each."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from durable.lang import c, m, when_all

from netwhy.dissect import icmp
from netwhy.expert.observations import ErrorGroup, Observations
from netwhy.expert.registry import Rule
from netwhy.expert.rule_api import RuleApi
from netwhy.kb import KnowledgeBase

RULES = (
    Rule("port-unreachable.sweep",
         "Port unreachable for many distinct ports from one host to one source: a port scan",
         ("icmp.unreachable.port-sweep",)),
)
SWEEP, = (rule.id for rule in RULES)
TERMS = (  # evidence terms, weighed in kb/evidence.yaml
    "part-of-sweep",
)
MAX_SWEEP_FRAMES = 64  # evidence frames a sweep lists; its message count says the rest


def observation_facts(seen: Observations) -> Iterator[dict[str, Any]]:
    """The facts these rules judge: port unreachables that hosts sent about themselves,
    counted per probing source and host across ports (the engine cannot count distinct
    values)."""
    sweeps: dict[tuple[str, str], list[ErrorGroup]] = {}
    for group in seen.errors.values():
        port_unreachable = (group.type, group.code) == (icmp.UNREACH, icmp.UNREACH_PORT)
        if port_unreachable and group.proto == "udp" and group.sender == group.q_dst:
            sweeps.setdefault((group.q_src, group.q_dst), []).append(group)
    for (src, dst), groups in sweeps.items():
        ports = {group.q_dport for group in groups}
        if len(ports) > 1:
            frames = sorted(frame for group in groups for frame in group.frames)
            yield {
                "kind": "port_sweep", "key": f"sweep:{src}:{dst}", "src": src, "dst": dst,
                "ports": len(ports), "messages": sum(group.count for group in groups),
                "frames": frames[:MAX_SWEEP_FRAMES],
            }


def define(kb: KnowledgeBase, api: RuleApi) -> None:
    finding, evidence = api.finding, api.evidence
    min_ports = kb.threshold("icmp.unreachable.port-sweep", "min_ports")

    @when_all((m.kind == "port_sweep") & (m.ports >= min_ports))
    def sweep(c):
        finding(
            c, SWEEP, c.m.key, "icmp.unreachable.port-sweep", src=c.m.src, dst=c.m.dst,
            reporter=c.m.dst, proto="udp", frames=c.m.frames, count=c.m.messages,
            details={"ports": c.m.ports},
        )

    @when_all(
        c.sweep << (m.kind == "port_sweep") & (m.ports >= min_ports),
        c.port << (m.kind == "finding") & (m.condition == "icmp.unreachable.port")
        & (m.src == c.sweep.src) & (m.dst == c.sweep.dst),
    )
    def part_of_sweep(c):
        evidence(c, SWEEP, c.port.fid, "part-of-sweep", supersedes=True)
