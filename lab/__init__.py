"""Capture lab: real-kernel scenarios in network namespaces, plus scapy-crafted rare codes."""
