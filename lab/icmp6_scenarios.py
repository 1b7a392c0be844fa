"""ICMPv6 errors and echo, one scenario per condition, made by the Linux kernel wherever Linux
sends the message.

The traffic is ordinary (ping, Python sockets) or, where a packet has to be unusual on purpose
(a lone first fragment, an unknown next header), built here and sent from inside the client's
namespace through a raw socket, so the kernel routes it, resolves the neighbour, and the answer
is the real kernel's. Messages no Linux stack sends (Destination Unreachable codes 7, 8 and an
unassigned one, informational types nobody implements) are written by scapy alone, with fixed
times and addresses. The IPv6 namespaces are quiet (no duplicate address detection, router
solicitations or late multicast listener reports) and every node's ICMPv6 rate limit is off.

This file is also the helper the namespaces run (``python icmp6_scenarios.py COMMAND``): the
IPv6 servers and probes that lab/traffic.py has only for IPv4 (standard library only).

Addresses, beyond ipv6_scenarios.py's (client 2001:db8:1::10, router 2001:db8:1::1 and
2001:db8:2::1, server 2001:db8:2::20): on one link with the client, the server is
2001:db8:1::20 and a second host 2001:db8:1::30; with two routers, 2001:db8:3::/64 is the link
between R1 (::1) and R2 (::2).
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from scapy.layers.inet import UDP
from scapy.layers.inet6 import (
    HBHOptUnknown,
    ICMPv6DestUnreach,
    ICMPv6Unknown,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrRouting,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw

from netwhy.lab import crafted
from netwhy.lab.ipv6_scenarios import (
    ABSENT6,
    CLIENT6,
    ROUTER6_CLIENT_SIDE,
    ROUTER6_SERVER_SIDE,
    SERVER6,
    UNROUTED6,
    routed_ipv6,
)
from netwhy.lab.netns import Topology
from netwhy.lab.scenarios import DNS_QUERY, Run, ping, scenario, tcp_connect, udp_tries

HELPER = str(Path(__file__))

LOCAL_SERVER6 = "2001:db8:1::20"  # the server on the client's own link
OTHER_HOST6 = "2001:db8:1::30"  # a second host on that link
ROUTER6_LINK_LOCAL = "fe80::1"  # the router's client-side link-local address, where set
R1_TRANSIT = "2001:db8:3::1"  # two routers: R1's side of the link between them
R2_TRANSIT = "2001:db8:3::2"  # R2's side
MIN_MTU = 1280  # IPv6's minimum link MTU; an ICMPv6 error never exceeds it (RFC 4443 2.4)
# Turning forwarding on or changing addresses sends multicast listener reports (and their
# repeats) within some 30 ms; a capture started at once may or may not catch the last.
SETTLE_S = 0.5

SERVER_MAC = "02:00:00:00:00:14"
OTHER_MAC = "02:00:00:00:00:1e"


# --- topologies and helpers ---------------------------------------------------------------


def helper(*args: str) -> list[str]:
    """The command line that runs one of this file's helpers inside a namespace."""
    return [sys.executable, HELPER, *args]


def quiet_ipv6(t: Topology, *names: str) -> None:
    for ns in names:
        t.add_namespace(ns, ipv6=True)
        t.sysctl(ns, "net.ipv6.icmp.ratelimit", "0")


def segment6(t: Topology) -> None:
    """Client 2001:db8:1::10 and server 2001:db8:1::20 on one Ethernet link."""
    quiet_ipv6(t, "client", "server")
    t.link("client", "eth0", "server", "eth0")
    t.address("client", "eth0", f"{CLIENT6}/64")
    t.address("server", "eth0", f"{LOCAL_SERVER6}/64")


def lan6(t: Topology, hosts: dict[str, str]) -> None:
    """Hosts (namespace name -> address/prefix) on one link, via a bridge in a namespace
    without IPv6 (it only switches)."""
    t.add_namespace("switch")
    t.bridge("switch")
    for name, cidr in hosts.items():
        quiet_ipv6(t, name)
        t.plug(name, "eth0", "switch")
        t.address(name, "eth0", cidr)


def two_routers6(t: Topology, server: bool = True) -> None:
    """Client -> R1 -> R2 (-> server): 2001:db8:3::/64 between the routers; R1 routes
    2001:db8:2::/64 via R2, R2 everything else via R1. Without ``server``, R2 has only its
    link to R1 (so a prefix R1 sends it comes straight back)."""
    quiet_ipv6(t, "client", "r1", "r2", *(("server",) if server else ()))
    t.link("client", "eth0", "r1", "eth0")
    t.link("r1", "eth1", "r2", "eth0")
    t.address("client", "eth0", f"{CLIENT6}/64")
    t.address("r1", "eth0", f"{ROUTER6_CLIENT_SIDE}/64")
    t.address("r1", "eth1", f"{R1_TRANSIT}/64")
    t.address("r2", "eth0", f"{R2_TRANSIT}/64")
    t.route("client", "default", ROUTER6_CLIENT_SIDE)
    t.route("r2", "default", R1_TRANSIT)
    if server:
        t.link("r2", "eth1", "server", "eth0")
        t.address("r2", "eth1", f"{ROUTER6_SERVER_SIDE}/64")
        t.address("server", "eth0", f"{SERVER6}/64")
        t.route("r1", "2001:db8:2::/64", R2_TRANSIT)
        t.route("server", "default", ROUTER6_SERVER_SIDE)
    for ns in ("r1", "r2"):
        t.sysctl(ns, "net.ipv6.conf.all.forwarding", "1")


@contextlib.contextmanager
def capture(t: Topology, ns: str, ifname: str | Sequence[str], out: Path) -> Iterator[None]:
    """:meth:`Topology.capture`, once the topology's own multicast listener reports are sent."""
    time.sleep(SETTLE_S)
    with t.capture(ns, ifname, out):
        yield


def sender6(t: Topology, ns: str) -> subprocess.Popen[str]:
    """Start the raw-socket sender (``send``) in ``ns``; feed it datagrams with :func:`inject`."""
    return t.start(ns, helper("send"), ready="ready")


def inject(proc: subprocess.Popen[str], pkt: Packet) -> None:
    """Have a running sender send one IPv6 datagram, every header byte as built here."""
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(bytes(pkt).hex() + "\n")
    proc.stdin.flush()
    line = proc.stdout.readline().strip()
    if not line.startswith("sent"):
        raise RuntimeError(f"raw IPv6 sender: {line or 'exited'}")


def quote6(invoking: Packet) -> bytes:
    """What an ICMPv6 error carries: as much of the invoking packet as fits in 1280 bytes."""
    return bytes(invoking)[: MIN_MTU - 40 - 8]


def nft(t: Topology, ns: str, ruleset: str) -> None:
    t.run(ns, ["nft", "-f", "-"], input=ruleset)


# --- destination unreachable, by the kernel -----------------------------------------------


@scenario(
    "ipv6-no-route",
    "the router has no route to 2001:db8:99::/64; a ping, a TCP SYN to tcp/443 and its "
    "retransmission, and a DNS query to 2001:db8:99::7 each get ICMPv6 no route to "
    "destination",
    conditions=("icmp6.unreachable.no-route",),
    icmp6_errors=((1, 0),),
)
def ipv6_no_route(out: Path) -> list[Path]:
    with Topology() as t:
        routed_ipv6(t)
        with capture(t, "client", "eth0", out):
            ping(t, UNROUTED6)
            time.sleep(0.5)
            tcp_connect(t, UNROUTED6, 443)
            time.sleep(0.5)
            udp_tries(t, UNROUTED6, 53, DNS_QUERY, 1)
    return [out]


def firewall_reject6(icmpv6_type: str) -> Run:
    """A scenario where the router's forward chain rejects tcp/8080 with ``icmpv6_type``."""
    ruleset = f"""
table ip6 netwhy_lab {{
    chain forward {{
        type filter hook forward priority filter; policy accept;
        tcp dport 8080 reject with icmpv6 type {icmpv6_type}
    }}
}}
"""

    def run(out: Path) -> list[Path]:
        with Topology() as t:
            routed_ipv6(t)
            nft(t, "router", ruleset)
            # The server listens, so only the firewall stands between client and service.
            t.start("server", helper("tcp-server", "8080"), ready="ready")
            with capture(t, "client", "eth0", out):
                tcp_connect(t, SERVER6, 8080)
        return [out]

    return run


scenario(
    "ipv6-admin-prohibited",
    "the router's nftables forward chain rejects a TCP SYN to [2001:db8:2::20]:8080 and its "
    "retransmission with ICMPv6 administratively prohibited",
    conditions=("icmp6.unreachable.admin-prohibited",),
    icmp6_errors=((1, 1),),
)(firewall_reject6("admin-prohibited"))

scenario(
    "ipv6-policy-fail",
    "the router's nftables forward chain rejects a TCP SYN to [2001:db8:2::20]:8080 and its "
    "retransmission with ICMPv6 source address failed ingress/egress policy",
    conditions=("icmp6.unreachable.policy-fail",),
    icmp6_errors=((1, 5),),
)(firewall_reject6("policy-fail"))

scenario(
    "ipv6-reject-route",
    "the router's nftables forward chain rejects a TCP SYN to [2001:db8:2::20]:8080 and its "
    "retransmission with ICMPv6 reject route to destination",
    conditions=("icmp6.unreachable.reject-route",),
    icmp6_errors=((1, 6),),
)(firewall_reject6("reject-route"))


@scenario(
    "ipv6-beyond-scope",
    "a client with only a link-local address (no global one, as when address autoconfiguration "
    "failed) and a default route via fe80::1 pings 2001:db8:2::20 and sends a TCP SYN to "
    "tcp/80 (and its retransmission) from fe80::...; the router's forwarding path answers each "
    "with ICMPv6 beyond scope of source address (nothing crafted: ordinary ping and socket)",
    conditions=("icmp6.unreachable.beyond-scope",),
    icmp6_errors=((1, 2),),
)
def ipv6_beyond_scope(out: Path) -> list[Path]:
    with Topology() as t:
        routed_ipv6(t)
        # Only the link-local address is left, so the kernel picks it as the source address.
        t.ip("client", "-6", "address", "del", f"{CLIENT6}/64", "dev", "eth0")
        t.address("router", "eth0", f"{ROUTER6_LINK_LOCAL}/64")
        t.ip("client", "-6", "route", "replace", "default", "via", ROUTER6_LINK_LOCAL,
             "dev", "eth0")
        with capture(t, "client", "eth0", out):
            ping(t, SERVER6)
            time.sleep(0.5)
            tcp_connect(t, SERVER6, 80)
    return [out]


@scenario(
    "ipv6-address-unreachable",
    "a ping and a TCP SYN to tcp/22 (sent 3 times) towards 2001:db8:2::99, which nobody has, "
    "on the server's link: the router's 3 neighbour solicitations go unanswered and after "
    "about 3 s it answers each with ICMPv6 address unreachable (captured on both of the "
    "router's interfaces)",
    conditions=("icmp6.unreachable.address",),
    icmp6_errors=((1, 3),),
)
def ipv6_address_unreachable(out: Path) -> list[Path]:
    with Topology() as t:
        routed_ipv6(t)
        # One file, both sides: the request (eth0), the unanswered solicitations (eth1), the
        # error (eth0), on one timeline.
        with capture(t, "router", ["eth0", "eth1"], out):
            # Both at once: the router queues them while it solicits, then fails both.
            pinger = t.start("client", ["ping", "-n", "-c", "1", "-W", "5", ABSENT6])
            tcp_connect(t, ABSENT6, 22, wait=6)
            pinger.wait(timeout=10)
    return [out]


@scenario(
    "ipv6-port-unreachable",
    "2 UDP datagrams to udp/9999 on 2001:db8:2::20, where nothing listens; the server answers "
    "each with ICMPv6 port unreachable",
    conditions=("icmp6.unreachable.port",),
    icmp6_errors=((1, 4),),
)
def ipv6_port_unreachable(out: Path) -> list[Path]:
    with Topology() as t:
        routed_ipv6(t)
        with capture(t, "client", "eth0", out):
            udp_tries(t, SERVER6, 9999, b"netwhy lab probe\n", 2)
    return [out]


# --- destination unreachable, by scapy ----------------------------------------------------

OFF_LINK_HOP = "2001:db8:7::20"  # a next hop the router has no link to


def routed_dns(attempt: int, dst: str = SERVER6) -> Packet:
    """The client's DNS query (a retry reuses port and query), as it leaves for the router."""
    return (Ether(src=crafted.CLIENT_MAC, dst=crafted.ROUTER_MAC)
            / IPv6(src=CLIENT6, dst=dst, hlim=64, fl=0x1D2C0 + attempt)
            / UDP(sport=41053, dport=53) / Raw(DNS_QUERY))


def router_error(code: int, invoking: Packet) -> Packet:
    """The router's ICMPv6 Destination Unreachable ``code`` quoting ``invoking``'s IPv6 packet."""
    return (Ether(src=crafted.ROUTER_MAC, dst=crafted.CLIENT_MAC)
            / IPv6(src=ROUTER6_CLIENT_SIDE, dst=CLIENT6, hlim=64)
            / ICMPv6DestUnreach(code=code) / Raw(quote6(invoking[IPv6])))


@scenario(
    "crafted-ipv6-srh-error",
    "scapy: 2 DNS queries sent to the router with an RPL Source Routing Header (RFC 6554, "
    "routing type 3) whose next hop, 2001:db8:7::20, is not on-link; the router answers each "
    "with ICMPv6 error in source routing header (no Linux stack sends it)",
    conditions=("icmp6.unreachable.source-routing-header",),
    icmp6_errors=((1, 7),),
    made_by="scapy",
)
def crafted_ipv6_srh_error(out: Path) -> list[Path]:
    timed: list[tuple[float, Packet]] = []
    for attempt in range(2):
        # Uncompressed (CmprI = CmprE = 0), so the header has the layout of a type 0 one.
        request = (Ether(src=crafted.CLIENT_MAC, dst=crafted.ROUTER_MAC)
                   / IPv6(src=CLIENT6, dst=ROUTER6_CLIENT_SIDE, hlim=64, fl=0x1D2C0 + attempt)
                   / IPv6ExtHdrRouting(type=3, segleft=1, addresses=[OFF_LINK_HOP])
                   / UDP(sport=41053, dport=53) / Raw(DNS_QUERY))
        timed += [(attempt, request), (attempt + 0.0004, router_error(7, request))]
    return crafted.save(out, timed)


@scenario(
    "crafted-ipv6-headers-too-long",
    "scapy: 2 first fragments of a UDP datagram whose header chain (fragment header, a "
    "1024-byte destination options header, UDP) is 1080 bytes, more than the router will "
    "parse; it answers each with ICMPv6 headers too long (RFC 8883; no Linux stack sends it)",
    conditions=("icmp6.unreachable.headers-too-long",),
    icmp6_errors=((1, 8),),
    made_by="scapy",
)
def crafted_ipv6_headers_too_long(out: Path) -> list[Path]:
    # Four experimental options (type 0x1e, RFC 4727: skipped if unknown) of 252 bytes each.
    options = [HBHOptUnknown(otype=0x1E, optdata=bytes(252)) for _ in range(4)]
    timed: list[tuple[float, Packet]] = []
    for attempt in range(2):
        whole = (IPv6(src=CLIENT6, dst=SERVER6, hlim=64)
                 / IPv6ExtHdrDestOpt(options=options)
                 / UDP(sport=40500, dport=5001) / Raw(bytes(1000)))
        fragmentable = bytes(whole)[40:]  # checksummed over the whole datagram
        first = (Ether(src=crafted.CLIENT_MAC, dst=crafted.ROUTER_MAC)
                 / IPv6(src=CLIENT6, dst=SERVER6, hlim=64, nh=44)
                 / IPv6ExtHdrFragment(nh=60, offset=0, m=1, id=0x6E5A0001 + attempt)
                 / Raw(fragmentable[: MIN_MTU - 48]))
        timed += [(attempt, first), (attempt + 0.0004, router_error(8, first))]
    return crafted.save(out, timed)


# --- packet too big, time exceeded, parameter problem -------------------------------------


@scenario(
    "ipv6-packet-too-big",
    "the router's link to the server carries only 1280-byte packets (its end has MTU 1280, the "
    "server's 1500, so the server announces MSS 1440); a 1400-byte ping, then a 4000-byte "
    "TCP upload whose full-size segments (1428 bytes of data) each draw ICMPv6 packet too big "
    "(MTU 1280) and are re-sent in 1208-byte segments",
    conditions=("icmp6.packet-too-big",),
    icmp6_errors=((2, 0),),
)
def ipv6_packet_too_big(out: Path) -> list[Path]:
    with Topology() as t:
        routed_ipv6(t)
        t.ip("server", "link", "set", "eth0", "mtu", "1500")
        # One wire segment per send: segmentation offload would hand over 64 KB packets.
        t.ip("client", "link", "set", "eth0", "gso_max_segs", "1")
        t.start("server", helper("tcp-server", "8080", "--count"), ready="ready")
        with capture(t, "client", "eth0", out):
            ping(t, SERVER6, "-M", "do", "-s", "1400")
            # Forget the learned path MTU, or TCP starts with segments that fit.
            t.run("client", ["ip", "-6", "route", "flush", "cache"])
            t.run("client", helper("upload", SERVER6, "8080", "4000"))
    return [out]


@scenario(
    "ipv6-traceroute",
    "traceroute-style UDP probes to 2001:db8:2::20 ports 33434-33439, 2 each with hop limit "
    "1, 2, 3: hop limit exceeded from R1 and R2, port unreachable from the server",
    conditions=("icmp6.hop-limit-exceeded",),
    icmp6_errors=((3, 0), (1, 4)),
)
def ipv6_traceroute(out: Path) -> list[Path]:
    with Topology() as t:
        two_routers6(t)
        with capture(t, "client", "eth0", out):
            t.run("client", helper("probes", SERVER6, "--max-hops", "3", "--per-hop", "2"))
    return [out]


@scenario(
    "ipv6-routing-loop",
    "R1 routes 2001:db8:99::/64 to R2, whose default route points back at R1; 2 pings to "
    "2001:db8:99::7 bounce between them, seen on the link between them with every hop limit "
    "from 63 down to 1, until R2 gets hop limit 1 and sends hop limit exceeded (captured on "
    "both sides of R1)",
    conditions=("icmp6.routing-loop",),
    icmp6_errors=((3, 0),),
)
def ipv6_routing_loop(out: Path) -> list[Path]:
    with Topology() as t:
        two_routers6(t, server=False)
        t.route("r1", "2001:db8:99::/64", R2_TRANSIT)
        # On R1, not the client: only there does the same datagram pass again and again.
        with capture(t, "r1", ["eth0", "eth1"], out):
            t.run("client", ["ping", "-n", "-c", "2", "-i", "1", "-W", "1", UNROUTED6],
                  check=False)
    return [out]


@scenario(
    "ipv6-reassembly-timeout",
    "only the first fragment of a 2008-byte UDP datagram reaches the server (ip6frag_time=3; "
    "the fragment is built by scapy and sent through a raw socket); 3 s later the server's "
    "kernel sends ICMPv6 fragment reassembly time exceeded",
    conditions=("icmp6.reassembly-timeout",),
    icmp6_errors=((3, 1),),
)
def ipv6_reassembly_timeout(out: Path) -> list[Path]:
    whole = (IPv6(src=CLIENT6, dst=LOCAL_SERVER6, hlim=64)
             / UDP(sport=40001, dport=5001) / Raw(bytes(2000)))
    fragmentable = bytes(whole)[40:]  # the UDP header checksums the whole datagram
    # 1448 bytes: what Linux puts in a first fragment on a 1500-byte link (a multiple of 8).
    first = (IPv6(src=CLIENT6, dst=LOCAL_SERVER6, hlim=64, nh=44)
             / IPv6ExtHdrFragment(nh=17, offset=0, m=1, id=0x2F010001)
             / Raw(fragmentable[:1448]))
    with Topology() as t:
        segment6(t)
        # Fragments wait 60 s by default; the error comes when the queue is given up.
        t.sysctl("server", "net.ipv6.ip6frag_time", "3")
        send = sender6(t, "client")
        with capture(t, "client", "eth0", out):
            inject(send, first)
            time.sleep(4)
    return [out]


@scenario(
    "ipv6-parameter-problem",
    "2 IPv6 packets with next header 253 (RFC 3692 testing), from a raw socket; the server "
    "answers each with ICMPv6 parameter problem, unrecognized next header, pointer 6",
    conditions=("icmp6.parameter-problem",),
    icmp6_errors=((4, 1),),
)
def ipv6_parameter_problem(out: Path) -> list[Path]:
    with Topology() as t:
        segment6(t)
        with capture(t, "client", "eth0", out):
            t.run("client", helper("raw-send", LOCAL_SERVER6, "253", "--count", "2"))
    return [out]


# --- echo -----------------------------------------------------------------------------------


@scenario(
    "ipv6-echo-ok",
    "4 pings to a server on the same link, all answered, after neighbour discovery",
    conditions=("icmp6.echo.ok",),
)
def ipv6_echo_ok(out: Path) -> list[Path]:
    with Topology() as t:
        segment6(t)
        with capture(t, "client", "eth0", out):
            t.run("client", ["ping", "-n", "-c", "4", "-i", "0.2", LOCAL_SERVER6])
    return [out]


DROP_ECHO6 = """
table ip6 netwhy_lab {
    chain input {
        type filter hook input priority filter; policy accept;
        icmpv6 type echo-request drop
    }
}
"""


@scenario(
    "ipv6-echo-no-reply",
    "3 pings to a server whose nftables input chain drops echo requests (neighbour discovery "
    "still answered) go unanswered; 2 pings to another host on the link are answered",
    conditions=("icmp6.echo.no-reply",),
)
def ipv6_echo_no_reply(out: Path) -> list[Path]:
    with Topology() as t:
        lan6(t, {"client": f"{CLIENT6}/64", "server": f"{LOCAL_SERVER6}/64",
                 "other": f"{OTHER_HOST6}/64"})
        nft(t, "server", DROP_ECHO6)
        with capture(t, "client", "eth0", out):
            t.run("client", ["ping", "-n", "-c", "3", "-i", "1", "-W", "1", LOCAL_SERVER6],
                  check=False)
            t.run("client", ["ping", "-n", "-c", "2", "-i", "0.2", OTHER_HOST6])
    return [out]


@scenario(
    "crafted-icmp6-unknown-type",
    "scapy: 2 ICMPv6 type 200 messages (private experimentation) to a host on the link, "
    "unanswered; a type 250 message (unassigned) from another host; a DNS query through the "
    "router answered with Destination Unreachable code 10 (unassigned)",
    conditions=("icmp6.unknown-type",),
    icmp6_errors=((1, 10),),
    made_by="scapy",
)
def crafted_icmp6_unknown_type(out: Path) -> list[Path]:
    timed: list[tuple[float, Packet]] = []
    for n in (1, 2):
        probe = (Ether(src=crafted.CLIENT_MAC, dst=SERVER_MAC)
                 / IPv6(src=CLIENT6, dst=LOCAL_SERVER6, hlim=64)
                 / ICMPv6Unknown(type=200, code=0, msgbody=b"netwhy experiment %d" % n))
        timed.append((n - 1.0, probe))
    unassigned = (Ether(src=OTHER_MAC, dst=crafted.CLIENT_MAC)
                  / IPv6(src=OTHER_HOST6, dst=CLIENT6, hlim=64)
                  / ICMPv6Unknown(type=250, code=0, msgbody=bytes(range(16))))
    query = routed_dns(0)
    timed += [(2.0, unassigned), (3.0, query), (3.0004, router_error(10, query))]
    return crafted.save(out, timed)


# --- clean ----------------------------------------------------------------------------------


@scenario(
    "ipv6-clean",
    "ordinary IPv6 only: neighbour discovery, 2 answered pings to the router and 2 to the "
    "server behind it, a complete TCP exchange and an answered UDP echo with the server",
)
def ipv6_clean(out: Path) -> list[Path]:
    with Topology() as t:
        routed_ipv6(t)
        t.start("server", helper("tcp-server", "8000"), ready="ready")
        t.start("server", helper("udp-echo", "7"), ready="ready")
        with capture(t, "client", "eth0", out):
            t.run("client", ["ping", "-n", "-c", "2", "-i", "0.2", ROUTER6_CLIENT_SIDE])
            t.run("client", ["ping", "-n", "-c", "2", "-i", "0.2", SERVER6])
            tcp_connect(t, SERVER6, 8000)
            udp_tries(t, SERVER6, 7, b"hello\n", 1)
    return [out]


# --- helpers run inside the namespaces (standard library only) -----------------------------


def say(text: str) -> None:
    print(text, flush=True)


def tcp_server(args: argparse.Namespace) -> None:
    """Accept connections, read until the client closes, answer with what it sent (or, with
    ``--count``, with how many bytes it sent: a short answer to a big upload)."""
    server = socket.create_server(("::", args.port), family=socket.AF_INET6)
    say("ready")
    while True:
        conn, _ = server.accept()
        with conn:
            data = b""
            while chunk := conn.recv(65535):
                data += chunk
            conn.sendall(f"received {len(data)} bytes\n".encode() if args.count else data)


def udp_echo(args: argparse.Namespace) -> None:
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.bind(("::", args.port))
    say("ready")
    while True:
        data, peer = sock.recvfrom(65535)
        sock.sendto(data, peer)


def upload(args: argparse.Namespace) -> None:
    """Send ``size`` bytes (``--first`` of them alone, then the rest a moment later), close the
    sending side, read the answer."""
    try:
        with socket.create_connection((args.dst, args.port), timeout=args.wait) as conn:
            if args.first:
                conn.sendall(b"h" * args.first)
                time.sleep(0.3)  # acknowledged before the rest leaves
            conn.sendall(b"u" * (args.size - args.first))
            conn.shutdown(socket.SHUT_WR)
            say(f"sent {args.size}, reply {conn.recv(65535)!r}")
    except OSError as err:
        say(f"error {err}")


def probes(args: argparse.Namespace) -> None:
    """Traceroute-style UDP probes from one unconnected socket: ``per_hop`` probes for each
    hop limit from 1 to ``max_hops``, each to the next port up from ``port``."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    port = args.port
    for hops in range(1, args.max_hops + 1):
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, hops)
        for _ in range(args.per_hop):
            # What Linux traceroute puts in its UDP probes: 32 bytes counting up from "@".
            sock.sendto(bytes(range(0x40, 0x60)), (args.dst, port))
            say(f"sent hop limit {hops} port {port}")
            port += 1
            time.sleep(args.gap)


def raw_send(args: argparse.Namespace) -> None:
    """Send bare IPv6 packets with next header ``proto``; the kernel writes the IPv6 header."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, args.proto)
    for n in range(args.count):
        if n:
            time.sleep(args.gap)
        sock.sendto(b"netwhy lab probe", (args.dst, 0))
    say(f"sent {args.count}")


def send(args: argparse.Namespace) -> None:
    """Send each IPv6 datagram given as a hex line on stdin, byte for byte, through a raw socket
    (IPPROTO_RAW: the header is the caller's); the kernel routes it and resolves the next hop."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
    say("ready")
    for line in sys.stdin:
        datagram = bytes.fromhex(line.strip())
        dst = socket.inet_ntop(socket.AF_INET6, datagram[24:40])
        sock.sendto(datagram, (dst, 0))
        say(f"sent {len(datagram)} bytes")


def main() -> None:
    parser = argparse.ArgumentParser(description="IPv6 helpers run inside lab namespaces")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("tcp-server")
    p.add_argument("port", type=int)
    p.add_argument("--count", action="store_true", help="answer with the byte count")
    p.set_defaults(func=tcp_server)

    p = commands.add_parser("udp-echo")
    p.add_argument("port", type=int)
    p.set_defaults(func=udp_echo)

    p = commands.add_parser("upload")
    p.add_argument("dst")
    p.add_argument("port", type=int)
    p.add_argument("size", type=int)
    p.add_argument("--wait", type=float, default=5.0)
    p.add_argument("--first", type=int, default=0)
    p.set_defaults(func=upload)

    p = commands.add_parser("probes")
    p.add_argument("dst")
    p.add_argument("--port", type=int, default=33434)
    p.add_argument("--max-hops", type=int, default=3)
    p.add_argument("--per-hop", type=int, default=2)
    p.add_argument("--gap", type=float, default=0.2)
    p.set_defaults(func=probes)

    p = commands.add_parser("raw-send")
    p.add_argument("dst")
    p.add_argument("proto", type=int)
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--gap", type=float, default=1.0)
    p.set_defaults(func=raw_send)

    p = commands.add_parser("send")
    p.set_defaults(func=send)

    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
