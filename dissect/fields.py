"""What netwhy asks tshark for: which packets, which fields, which dissectors.

Only packets that can matter to a rule reach Python: ICMP and ICMPv6 (Neighbor Discovery
included), ARP, TCP segments that open or reset a
connection, and the first datagram of each UDP conversation. Everything else (bulk data) is only
counted, by tshark's own conversation and I/O taps in the same pass.
"""

from __future__ import annotations

from netwhy.dissect.ip import PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP

# Row layout: one tab-separated column per field. A field that occurs twice (the outer header and
# the copy quoted inside an ICMP error) prints as "outer,quoted".
FIELDS: tuple[str, ...] = (
    "frame.number",
    "frame.time_relative",
    "frame.time_epoch",  # exact, whichever record tshark read first (prefilter.py)
    "eth.src",
    "ip.src",
    "ip.dst",
    "ip.ttl",
    "ip.id",
    "ip.flags.df",
    "ip.proto",
    "icmp.type",
    "icmp.code",
    "icmp.mtu",
    "icmp.redir_gw",
    "icmp.pointer",
    "icmp.ident",
    "icmp.seq",
    "icmp.address_mask",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.flags",
    "udp.srcport",
    "udp.dstport",
    "arp.opcode",
    "arp.src.hw_mac",
    "arp.src.proto_ipv4",
    "arp.dst.hw_mac",
    "arp.dst.proto_ipv4",
    # With eth.src: which MAC carries off-subnet traffic (arp_spoofing.py). Not next to
    # eth.src: `-T tabs` prints an arrow between a source column and a destination column.
    "eth.dst",
    # IPv6 and ICMPv6 (RFC 4443), Neighbor Discovery (RFC 4861) last: empty for IPv4 rows.
    "ipv6.src",
    "ipv6.dst",
    "ipv6.hlim",
    "ipv6.nxt",
    "icmpv6.type",
    "icmpv6.code",
    "icmpv6.mtu",
    "icmpv6.pointer",
    "icmpv6.echo.identifier",
    "icmpv6.echo.sequence_number",
    "icmpv6.nd.ns.target_address",
    "icmpv6.nd.na.target_address",
    "icmpv6.nd.na.flag.r",
    "icmpv6.nd.na.flag.s",
    "icmpv6.nd.na.flag.o",
    "icmpv6.opt.linkaddr",
    "icmpv6.nd.ra.router_lifetime",
    "icmpv6.opt.prefix",
    "icmpv6.opt.mtu",
    "icmpv6.nd.rd.target_address",
    "icmpv6.rd.na.destination_address",
)
COLUMN = {name: index for index, name in enumerate(FIELDS)}

# tshark's built-in columns where one says the same as the field: they cost nothing extra, while
# every custom column makes tshark keep its field for every packet, not only the ones printed.
_BUILTIN = {"frame.number": "%m", "frame.time_relative": "%Rt", "eth.src": "%uhs",
            "eth.dst": "%uhd"}


def column_format() -> str:
    """The `gui.column.format` preference that makes `tshark -T tabs` print FIELDS as a row:
    the same values as `-T fields -E occurrence=a`, at two thirds of the cost (`-T fields` builds
    every packet's full tree to print; columns are filled only for packets that pass the filter)."""
    return ",".join(
        f'"{index}","{_BUILTIN.get(name) or f"%Cus:{name}:0:U"}"'
        for index, name in enumerate(FIELDS)
    )

DISPLAY_FILTER = (
    "arp or ((ip or ipv6) and (icmp or icmpv6 or tcp.flags.syn == 1 or tcp.flags.reset == 1"
    " or udp.time_relative == 0))"
)

# Preferences: udp.time_relative needs UDP timestamps; TCP analysis and reassembly are the most
# expensive parts of dissecting bulk traffic and no rule needs them. IP reassembly is off too
# (IPv4's and IPv6's): a datagram's first fragment carries its ports, and without reassembly a
# datagram whose fragments fall into two streams counts the same as in one pass.
PREFERENCES: dict[str, str] = {
    "udp.calculate_timestamps": "TRUE",
    "ip.defragment": "FALSE",
    "ipv6.defragment": "FALSE",
    "tcp.analyze_sequence_numbers": "FALSE",
    "tcp.desegment_tcp_streams": "FALSE",
    "tcp.calculate_timestamps": "FALSE",
    "tcp.check_checksum": "FALSE",
    "udp.check_checksum": "FALSE",
}

# Application dissectors that cost time on real traffic and that no rule reads.
DISABLED_PROTOCOLS: tuple[str, ...] = (
    "tls", "http", "http2", "quic", "dns", "mdns", "llmnr", "nbns", "nbss", "smb", "smb2",
    "dcerpc", "ldap", "kerberos", "ssh", "rtp", "rtcp", "sip", "snmp", "ntp", "dhcp", "ssdp",
    "syslog", "mbtcp", "ftp", "smtp", "imap", "pop", "bittorrent",
)

# The packets no rule can judge: neither IP nor ARP (STP, LLDP and other protocols), and IP or
# ARP that the capture's snap length cut before the fields netwhy reads: ARP without its
# addresses, an IP header without its addresses, a first fragment without its ICMP type and
# code, TCP flags or UDP header. An ICMP error's quoted TCP or UDP header is short by nature,
# hence `not icmp` there. tshark's own fields judge, so that a file
# read in one pass and one read through the prefilter are judged alike.
_CUT_TRANSPORT = (f"(ip.proto == {PROTO_TCP} and not tcp.flags)"
                  f" or (ip.proto == {PROTO_UDP} and not udp.length)")
_CUT_FIRST = f"(ip.proto == {PROTO_ICMP} and not icmp.code) or (not icmp and ({_CUT_TRANSPORT}))"
_CUT6_TRANSPORT = (f"(ipv6.nxt == {PROTO_TCP} and not tcp.flags)"
                   f" or (ipv6.nxt == {PROTO_UDP} and not udp.length)"
                   f" or (ipv6.nxt == {PROTO_ICMPV6} and not icmpv6.code)")
_CUT = (f"(arp and not arp.dst.proto_ipv4) or (ip and not ip.dst)"
        f" or (ip.frag_offset == 0 and ({_CUT_FIRST}))"
        f" or (ipv6 and not ipv6.dst) or (not icmp and not icmpv6 and ({_CUT6_TRANSPORT}))")
NOT_ANALYSED = f"not (ip or ipv6 or arp) or (_ws.short and ({_CUT}))"

# Taps printed after the rows, in the same pass: per-conversation UDP counts, the protocol
# hierarchy whose top-level lines add up to the packet total (io,stat prints no row for a
# capture whose packets all share one timestamp), and the hierarchy of the packets no rule can
# judge, which names their protocols (rows.py sorts them by reason).
TAPS: tuple[str, ...] = ("conv,udp", "io,phs", f"io,phs,{NOT_ANALYSED}")

# Ports whose payload tshark opens into whole packets again (tunnels, mirrors, samplers): the
# packets inside may be ICMP, ARP or a SYN, so the prefilter hands every such datagram or
# segment to tshark, counted by tshark, never by netwhy.
FRAME_CARRYING_UDP_PORTS: frozenset[int] = frozenset({
    1701,  # L2TP
    2048,  # WCCP
    2123, 2152,  # GTP
    2268,  # AMT
    3386,  # GTP' (tshark opens the GTP it carries, and the packets inside)
    3544,  # Teredo
    4305,  # B.A.T.M.A.N.
    4341,  # LISP data
    4500,  # IPsec NAT traversal
    4754,  # GRE in UDP
    4789, 4790,  # VXLAN, VXLAN-GPE
    5072,  # AYIYA
    5246, 5247,  # CAPWAP
    6081,  # Geneve
    6343,  # sFlow (samples of packet headers)
    6635,  # MPLS in UDP
    12000, 12001, 12002, 12003, 12004,  # Cisco LLC-in-UDP
    12220, 12222, 12223,  # LWAPP
    30030,  # Juniper packet mirroring
    37008,  # TZSP
})
FRAME_CARRYING_TCP_PORTS: frozenset[int] = frozenset({
    6653, 6633,  # OpenFlow (packet-in and packet-out messages hold frames)
    2002,  # rpcap
})

# Live capture: the kernel drops bulk TCP data before dumpcap copies it, the choice the
# prefilter makes for files; everything else (UDP included, for the conversation counts) is
# read by tshark. Combined with the user's own capture filter, if any.
# BPF reads TCP's flags in IPv4 only (tcp[...]); in IPv6 they sit 53 bytes in, when no
# extension header comes first (with one, the packet is kept: tshark judges).
LIVE_CAPTURE_FILTER = (
    "not tcp or tcp[tcpflags] & (tcp-syn|tcp-rst) != 0"
    " or (ip6 and (ip6[6] != 6 or ip6[53] & 0x06 != 0))") + "".join(
    f" or tcp port {port}" for port in sorted(FRAME_CARRYING_TCP_PORTS))


def live_capture_filter(user_filter: str | None) -> str:
    return f"({user_filter}) and ({LIVE_CAPTURE_FILTER})" if user_filter else LIVE_CAPTURE_FILTER
