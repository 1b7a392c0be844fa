"""Every lab scenario, from every module that registers some."""

from netwhy.lab import arp_scenarios, icmp_scenarios  # noqa: F401  (they register on import)
from netwhy.lab.scenarios import SCENARIOS, Scenario

__all__ = ["SCENARIOS", "Scenario"]
