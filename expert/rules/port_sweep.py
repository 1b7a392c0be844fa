"""Many closed UDP ports on one host, probed by one source: one sweep, not a port each."""

from __future__ import annotations

from durable.lang import c, m, when_all
from netwhy.expert.facts import evidence, finding
from netwhy.expert.registry import register
from netwhy.kb import load_knowledge_base

SWEEP = register(
    "port-unreachable.sweep",
    "Port unreachable for many distinct ports from one host to one source: a port scan",
    ("icmp.unreachable.port-sweep",),
)


def define() -> None:
    min_ports = load_knowledge_base().threshold("icmp.unreachable.port-sweep", "min_ports")

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
