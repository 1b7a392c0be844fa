"""ARP scenarios: unanswered, proxy ARP, mask errors, duplicate IP, gratuitous, storm."""
