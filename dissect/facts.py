"""Typed facts: the only thing dissect/ hands to the rest of netwhy.

Each fact is a small immutable record carrying the frame number and capture time of the packet it
came from, so that every conclusion can point back at its evidence frames.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class QuotedDatagram:
    """The IP or IPv6 header (and first bytes of payload) that an ICMP error sends back."""

    src: str
    dst: str
    proto: int  # IPv6: the transport's next header, past any extension headers
    ttl: int | None  # IPv6: the hop limit
    df: bool | None
    ip_id: int | None
    sport: int | None = None  # TCP/UDP
    dport: int | None = None
    icmp_type: int | None = None  # when the quoted datagram was itself ICMP (e.g. an echo request)
    icmp_ident: int | None = None
    icmp_seq: int | None = None  # ICMPv6 only: with the identifier, names an echo request


@dataclass(frozen=True, slots=True)
class IcmpMessage:
    """An ICMP message, or an ICMPv6 one (family 6) other than Neighbor Discovery's."""

    frame: int
    time: float
    src: str
    dst: str
    ttl: int | None  # IPv6: the hop limit
    type: int  # of its own family: ICMPv6's numbers are not ICMP's
    code: int
    quoted: QuotedDatagram | None = None
    mtu: int | None = None  # next-hop MTU of frag-needed (RFC 1191) or Packet Too Big (RFC 4443)
    gateway: str | None = None  # the better first hop a redirect names
    pointer: int | None = None  # parameter problem: offset of the offending octet
    ident: int | None = None  # echo, timestamp and address mask identifiers
    seq: int | None = None
    address_mask: str | None = None
    src_mac: str | None = None
    ip_id: int | None = None  # of the outer header: a looping datagram keeps its id
    dst_mac: str | None = None
    family: int = 4  # 6: ICMPv6


@dataclass(frozen=True, slots=True)
class NdpMessage:
    """A Neighbor Discovery message (RFC 4861): router or neighbor solicitation or
    advertisement, or a redirect."""

    frame: int
    time: float
    type: int  # 133-137
    code: int
    src: str
    dst: str
    hop_limit: int | None
    src_mac: str | None  # the Ethernet source
    target: str | None = None  # solicited or advertised address; a redirect's better first hop
    destination: str | None = None  # the destination a redirect is about
    link_address: str | None = None  # its link-layer address option (source, or target)
    router: bool = False  # advertisement flags R, S, O
    solicited: bool = False
    override: bool = False
    router_lifetime: int | None = None  # router advertisement, seconds
    prefixes: tuple[str, ...] = ()
    mtu: int | None = None  # router advertisement's MTU option


@dataclass(frozen=True, slots=True)
class ArpMessage:
    frame: int
    time: float
    opcode: int  # 1 request, 2 reply
    sender_mac: str
    sender_ip: str
    target_mac: str
    target_ip: str
    eth_src: str | None = None


@dataclass(frozen=True, slots=True)
class TcpControl:
    """A TCP segment that opens, accepts or resets a connection (SYN, SYN-ACK, RST)."""

    frame: int
    time: float
    src: str
    dst: str
    sport: int
    dport: int
    syn: bool
    ack: bool
    rst: bool
    ttl: int | None = None
    ip_id: int | None = None
    src_mac: str | None = None  # the Ethernet addresses: which MAC carries off-subnet traffic
    dst_mac: str | None = None


@dataclass(frozen=True, slots=True)
class UdpFirst:
    """The first datagram of a UDP conversation: the request, as far as the capture shows."""

    frame: int
    time: float
    src: str
    dst: str
    sport: int
    dport: int
    src_mac: str | None = None
    dst_mac: str | None = None


@dataclass(frozen=True, slots=True)
class TcpStall:
    """One direction of a TCP connection (src sends, dst receives) whose data stopped getting
    through: the same segment sent again and again without an acknowledgement (the sender's
    view), or bytes the sender sent that the receiver never acknowledged and the capture never
    showed (the receiver's view). Sizes are IP total lengths; 0 where the capture cannot tell."""

    src: str
    dst: str
    sport: int
    dport: int
    opened_by_sender: bool  # src sent the first SYN (the client), or dst did
    sender_mss: int  # the MSS each side offered in its SYN
    receiver_mss: int
    largest_acked: int  # the largest segment of src's that dst acknowledged
    stalled: int  # the re-sent segment's size (0: no re-send in the capture)
    resends: int
    recovered: bool  # a smaller send of the stalled bytes got through afterwards
    recovered_size: int
    missing_bytes: int  # sent by src, never shown in the capture nor acknowledged by dst
    zero_window: bool  # dst's last advertised window was zero
    frames: tuple[int, ...]  # the largest acknowledged segment, the stalled one, its re-sends
    time: float  # the stall's first send (or the connection's start)
    last_time: float

    @property
    def frame(self) -> int:
        return self.frames[0] if self.frames else 0


@dataclass(frozen=True, slots=True)
class UdpConversation:
    """tshark's count of one UDP conversation (every packet, not only the ones netwhy parsed)."""

    a: str
    a_port: int
    b: str
    b_port: int
    frames_a_to_b: int
    frames_b_to_a: int
    start: float  # seconds, relative to the first packet of the capture
    duration: float


@dataclass(frozen=True, slots=True)
class Unanalysed:
    """Packets no rule can judge, by reason (each packet counts under one)."""

    cut: int = 0  # IP or ARP cut by the snap length before the fields the rules read
    other: tuple[tuple[str, int], ...] = ()  # neither IP nor ARP: tshark's name, packets

    @property
    def others(self) -> int:
        return sum(count for _, count in self.other)


@dataclass(frozen=True, slots=True)
class CaptureSummary:
    """What the whole pass saw, known only once tshark has finished."""

    packets: int
    tshark_version: str
    truncated: str | None = None  # tshark's own words when the file ended early or was damaged
    unanalysed: Unanalysed = Unanalysed()
    # Whether the prefilter walked the records and followed TCP's segments (tcp_segments.py);
    # a compressed or damaged file is read by tshark alone, which never sees bulk TCP.
    segments_followed: bool = True


Fact = IcmpMessage | NdpMessage | ArpMessage | TcpControl | UdpFirst | UdpConversation | TcpStall
