"""A host that many sources each try once, on many ports, and that refuses them all: it is being
probed (worms, scanners, the Internet's background noise), and no client of it failed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from durable.lang import c, m, when_all

from netwhy.expert.observations import Observations
from netwhy.expert.registry import Rule
from netwhy.expert.rule_api import RuleApi
from netwhy.kb import KnowledgeBase

RULES = (
    Rule("refusal.probed-by-many",
         "A refusal among many by a host that many sources each tried once: probes, not clients",
         ("tcp.refused", "icmp.unreachable.port")),
)
PROBED, = (rule.id for rule in RULES)
TERMS = (  # evidence terms, weighed in kb/evidence.yaml
    "probed-by-many",
)
MAX_TRIES_OF_A_PROBE = 3  # one SYN, re-sent twice after resets by Windows; clients keep trying


def observation_facts(seen: Observations, kb: KnowledgeBase) -> Iterator[dict[str, Any]]:
    """Per refusing host: the sources it refused (TCP reset or its own port unreachable) that
    tried it no more than a probe does, and the ports they tried."""
    sources: dict[str, set[str]] = {}
    ports: dict[str, set[int]] = {}

    def note(host: str, source: str, port: int) -> None:
        sources.setdefault(host, set()).add(source)
        ports.setdefault(host, set()).add(port)

    for service in seen.services.values():
        if service.refused and not service.replies and service.attempts <= MAX_TRIES_OF_A_PROBE:
            note(service.dst, service.src, service.dport)
    for group in seen.errors.values():
        if (group.port_unreachable and group.sender == group.q_dst
                and group.count <= MAX_TRIES_OF_A_PROBE):
            note(group.q_dst, group.q_src, group.q_dport)
    least_sources = kb.threshold("tcp.refused", "probe_sources_min")
    least_ports = kb.threshold("tcp.refused", "probe_ports_min")
    for host, refused in sources.items():
        if len(refused) >= least_sources and len(ports[host]) >= least_ports:
            yield {"kind": "probed_host", "key": f"probed:{host}", "host": host,
                   "sources": len(refused), "ports": len(ports[host])}


def define(kb: KnowledgeBase, api: RuleApi) -> None:
    evidence = api.evidence
    probed = m.kind == "probed_host"  # those that reach the thresholds (observation_facts)

    @when_all(
        c.target << probed,
        c.attempt << (m.kind == "attempt") & (m.refused > 0) & (m.dst == c.target.host)
        & (m.refused <= MAX_TRIES_OF_A_PROBE),
    )
    def refused_probe(c):
        # The refusal's finding (conversations.py) stays out of the engine: name it by its id.
        fid = api.finding_id("tcp.refused", c.attempt.key, "tcp.refused")
        evidence(c, PROBED, fid, "probed-by-many",
                 details={"probing_sources": c.target.sources, "probed_ports": c.target.ports})

    @when_all(
        c.target << probed,
        c.finding << (m.kind == "finding") & (m.condition == "icmp.unreachable.port")
        & (m.dst == c.target.host) & (m.reporter == c.target.host)
        & (m.count <= MAX_TRIES_OF_A_PROBE),
    )
    def unreachable_probe(c):
        evidence(c, PROBED, c.finding.fid, "probed-by-many",
                 details={"probing_sources": c.target.sources, "probed_ports": c.target.ports})
