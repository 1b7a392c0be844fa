"""netwhy: explains why network conversations failed, from the ICMP and ARP evidence."""

__version__ = "0.1.0"
