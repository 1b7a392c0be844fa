"""IPv4 (RFC 791) and IPv6 (RFC 8200): the protocol numbers netwhy names (IANA's protocol
number registry, which IPv6's next header shares)."""

from __future__ import annotations

PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17
PROTO_ICMPV6 = 58

PROTOCOL_NAMES = {PROTO_ICMP: "icmp", PROTO_TCP: "tcp", PROTO_UDP: "udp",
                  PROTO_ICMPV6: "icmpv6"}
