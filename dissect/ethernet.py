"""Ethernet (IEEE 802.3): the EtherTypes netwhy names (IEEE's EtherType registry)."""

from __future__ import annotations

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_ARP = 0x0806
ETHERTYPE_VLAN = 0x8100  # an IEEE 802.1Q tag, then the EtherType of what the frame carries
ETHERTYPE_IPV6 = 0x86DD
