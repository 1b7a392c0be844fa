"""Every lab scenario, from every module that registers some."""

from netwhy.lab import (  # noqa: F401  (they register on import)
    arp_scenarios,
    benign_scenarios,
    conversation_scenarios,
    icmp6_scenarios,
    icmp_scenarios,
    ipv6_scenarios,
    ndp_scenarios,
    pmtu_scenarios,
    scan_scenarios,
    spoof_scenarios,
)
from netwhy.lab.scenarios import SCENARIOS, Scenario

__all__ = ["SCENARIOS", "Scenario"]
