"""A DHCP server pings an address before it offers it (RFC 2131 section 2.2): silence, or a
router's host unreachable, is the answer it hopes for. Not a failure."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from durable.lang import c, m, when_all

from netwhy.expert.observations import Observations
from netwhy.expert.registry import Rule
from netwhy.expert.rule_api import RuleApi
from netwhy.kb import KnowledgeBase

RULES = (
    Rule("echo.dhcp-conflict-check",
         "An unanswered ping from a DHCP server: its check that an address is free to offer",
         ("icmp.echo.no-reply", "icmp.unreachable.host")),
)
CONFLICT_CHECK, = (rule.id for rule in RULES)
TERMS = (  # evidence terms, weighed in kb/evidence.yaml
    "dhcp-conflict-check",
)
DHCP_SERVER_PORT = 67  # BOOTP/DHCP server (RFC 2131); relays talk to it from port 67 too


def observation_facts(seen: Observations, kb: KnowledgeBase) -> Iterator[dict[str, Any]]:
    """Hosts that answered DHCP requests on udp/67 in this capture."""
    servers = {service.dst for (proto, _, _, port), service in seen.services.items()
               if proto == "udp" and port == DHCP_SERVER_PORT and service.replies}
    for server in sorted(servers):
        yield {"kind": "dhcp_server", "key": f"dhcp-server:{server}", "address": server}


def define(kb: KnowledgeBase, api: RuleApi) -> None:
    evidence = api.evidence

    @when_all(
        c.server << (m.kind == "dhcp_server"),
        c.finding << (m.kind == "finding") & (m.src == c.server.address)
        & ((m.condition == "icmp.echo.no-reply") | (m.condition == "icmp.unreachable.host"))
        & (m.proto == "icmp"),
    )
    def conflict_check(c):
        evidence(c, CONFLICT_CHECK, c.finding.fid, "dhcp-conflict-check")
