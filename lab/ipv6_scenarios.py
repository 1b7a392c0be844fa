"""IPv6 behind a router: a capture of several failures at once, each diagnosed in one report.

Addresses, from the IPv6 documentation prefix: client 2001:db8:1::10; the router 2001:db8:1::1
on the client's side and 2001:db8:2::1 on the server's, where the server is 2001:db8:2::20;
2001:db8:99::/64 is a network the router has no route to; nobody has 2001:db8:2::99.
"""

from __future__ import annotations

from pathlib import Path

from netwhy.lab.netns import Topology
from netwhy.lab.scenarios import ping, scenario, tcp_connect, udp_tries

CLIENT6 = "2001:db8:1::10"
ROUTER6_CLIENT_SIDE = "2001:db8:1::1"
ROUTER6_SERVER_SIDE = "2001:db8:2::1"
SERVER6 = "2001:db8:2::20"
UNROUTED6 = "2001:db8:99::7"
ABSENT6 = "2001:db8:2::99"


def routed_ipv6(t: Topology) -> None:
    """Client -> router -> server over IPv6 only; the server's link has IPv6's minimum MTU."""
    for ns in ("client", "router", "server"):
        t.add_namespace(ns, ipv6=True)
        # Every error is sent: Linux rate-limits ICMPv6 errors per destination.
        t.sysctl(ns, "net.ipv6.icmp.ratelimit", "0")
    t.link("client", "eth0", "router", "eth0")
    t.link("router", "eth1", "server", "eth0", mtu=1280)
    t.address("client", "eth0", f"{CLIENT6}/64")
    t.address("router", "eth0", f"{ROUTER6_CLIENT_SIDE}/64")
    t.address("router", "eth1", f"{ROUTER6_SERVER_SIDE}/64")
    t.address("server", "eth0", f"{SERVER6}/64")
    t.route("client", "default", ROUTER6_CLIENT_SIDE)
    t.route("server", "default", ROUTER6_SERVER_SIDE)
    t.sysctl("router", "net.ipv6.conf.all.forwarding", "1")


@scenario(
    "ipv6-failures",
    "over IPv6 only, behind a router: no route (a ping and a TCP SYN), a closed UDP port (2 "
    "datagrams), hop limit exceeded, packet too big, an absent host, and a refused TCP port",
    conditions=("icmp6.unreachable.port", "icmp6.unreachable.no-route",
                "icmp6.unreachable.address", "tcp.refused", "icmp6.packet-too-big",
                "icmp6.hop-limit-exceeded"),
    icmp6_errors=((1, 0), (1, 3), (1, 4), (2, 0), (3, 0)),
)
def ipv6_failures(out: Path) -> list[Path]:
    with Topology() as t:
        routed_ipv6(t)
        with t.capture("client", "eth0", out):
            ping(t, UNROUTED6)
            tcp_connect(t, UNROUTED6, 443)
            udp_tries(t, SERVER6, 9999, b"netwhy lab probe\n", 2)
            ping(t, SERVER6, "-t", "1")
            ping(t, SERVER6, "-M", "do", "-s", "1400")
            t.run("client", ["ping", "-n", "-c", "1", "-W", "5", ABSENT6], check=False)
            tcp_connect(t, SERVER6, 2222)
    return [out]
