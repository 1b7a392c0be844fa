"""ARP scenarios: unanswered, proxy ARP, mask errors, duplicate IP, gratuitous, storm.

The kernel on the asking host reports a failed ARP to itself (the ICMP host unreachable it
makes for its own datagram goes over loopback), so unless a router is in the way these
captures hold no ICMP error at all: the evidence is the ARP traffic itself.

Segments with three or more stations are a Linux bridge in a "lan" namespace; a capture on
the bridge sees the whole segment, one on a station's interface what that station sees.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from netwhy.lab.netns import Topology
from netwhy.lab.scenarios import (
    ABSENT_HOST,
    CLIENT,
    LOCAL_SERVER,
    ROUTER_CLIENT_SIDE,
    ping,
    routed,
    scenario,
    segment,
    tcp_connect,
)

ABSENT_LOCAL = "192.0.2.99"  # on the client's segment, but nobody has it

# The wide/narrow mask sites: 10.1.0.0/24 is the client segment, the rest is behind a router.
SITE_ROUTER = "10.1.0.1"
SITE_CLIENT = "10.1.0.10"
SITE_STATION = "10.1.0.11"
SITE_SERVER = "10.1.2.20"
SITE_FAR = "10.1.3.30"

REDIRECT_SERVER = "192.0.2.200"
DUPLICATE = "192.0.2.50"

# One UDP datagram to each of 192.0.2.100-159, about 15 ms apart (~0.9 s in all), from one
# unconnected socket (the local "host unreachable" errors 3 s later are never read).
SWEEP = """
import socket, time
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for last in range(100, 160):
    sock.sendto(b"netwhy lab sweep", (f"192.0.2.{last}", 9))
    time.sleep(0.015)
"""


def ping_from(
    t: Topology, ns: str, dst: str, count: int = 1, interval: float = 0.2, wait: int = 1
) -> None:
    # check=False: several of these pings are meant to fail.
    t.run(ns, ["ping", "-n", "-c", str(count), "-i", str(interval), "-W", str(wait), dst],
          check=False)


def forget_neighbours(t: Topology, ns: str, ifname: str = "eth0") -> None:
    """Empty ``ns``'s ARP cache, so its next datagram ARPs again."""
    t.run(ns, ["ip", "neigh", "flush", "dev", ifname])


def lan(t: Topology, *hosts: str) -> None:
    """A bridge in namespace "lan" with each host's eth0 plugged into it."""
    t.add_namespace("lan")
    t.bridge("lan")
    for host in hosts:
        t.add_namespace(host)
        t.plug(host, "eth0", "lan")


# --- unanswered ARP -----------------------------------------------------------------------


@scenario(
    "arp-unanswered",
    "a ping to the server (ARP answered), then a ping to 192.0.2.99 on the same segment, which "
    "nobody has: 3 unanswered ARP requests a second apart",
    conditions=("arp.unanswered",),
)
def arp_unanswered(out: Path) -> list[Path]:
    with Topology() as t:
        segment(t)
        with t.capture("client", "eth0", out):
            ping(t, LOCAL_SERVER)
            # -W 5: outlive the 3 probes (mcast_solicit) a second apart (retrans_time_ms).
            ping(t, ABSENT_LOCAL, "-W", "5")
    return [out]


@scenario(
    "host-down-combined",
    "a ping and TCP SYNs to an absent host behind the router, captured on both router "
    "interfaces: its unanswered ARP requests on the server side, host unreachable for each on "
    "the client side",
    conditions=("icmp.unreachable.host",),  # its unanswered ARP is part of that diagnosis
    errors=((3, 1),),
)
def host_down_combined(out: Path) -> list[Path]:
    with Topology() as t:
        routed(t)
        with t.capture("router", ["eth0", "eth1"], out):
            # The ping starts the router's ARP half a second before the first SYN: SYNs are
            # retried every second (tcp_syn_linear_timeouts), the ARP gives up after 3 probes a
            # second apart, and in step a fourth SYN would race the ARP failure (and restart it).
            pinger = t.start("client", ["ping", "-n", "-c", "1", "-W", "5", ABSENT_HOST])
            time.sleep(0.5)
            tcp_connect(t, ABSENT_HOST, 22, wait=6)
            pinger.wait(timeout=10)
    return [out]


# --- masks and proxy ARP ------------------------------------------------------------------


def site(t: Topology, proxy_arp: bool) -> None:
    """Client segment 10.1.0.0/24 (a bridge) behind router 10.1.0.1, which also reaches
    10.1.2.0/24 (the server) and 10.1.3.0/24 (another host). The client has a /16 mask, so
    it takes both remote hosts for neighbours; the station next to it is configured right."""
    lan(t, "client", "station", "router")
    for ns in ("server", "far"):
        t.add_namespace(ns)
    t.link("router", "eth1", "server", "eth0")
    t.link("router", "eth2", "far", "eth0")
    t.address("router", "eth0", f"{SITE_ROUTER}/24")
    t.address("router", "eth1", "10.1.2.1/24")
    t.address("router", "eth2", "10.1.3.1/24")
    t.address("client", "eth0", f"{SITE_CLIENT}/16")
    t.address("station", "eth0", f"{SITE_STATION}/24")
    t.address("server", "eth0", f"{SITE_SERVER}/24")
    t.address("far", "eth0", f"{SITE_FAR}/24")
    for ns in ("client", "station"):
        t.route(ns, "default", SITE_ROUTER)
    t.route("server", "default", "10.1.2.1")
    t.route("far", "default", "10.1.3.1")
    t.enable_forwarding("router")
    # Set both: the kernel ORs "all" with the interface (the host's value is inherited).
    t.sysctl("router", "net.ipv4.conf.all.proxy_arp", "0")
    t.sysctl("router", "net.ipv4.conf.eth0.proxy_arp", "1" if proxy_arp else "0")


@scenario(
    "proxy-arp-wide-mask",
    "a client with a /16 mask on a /24 ARPs for two remote hosts; the router (proxy_arp=1) "
    "answers with its own MAC and the pings work; a correctly configured station pings the "
    "server through the router",
    conditions=("arp.proxy", "arp.mask-misconfig"),
)
def proxy_arp_wide_mask(out: Path) -> list[Path]:
    with Topology() as t:
        site(t, proxy_arp=True)
        with t.capture("lan", "br0", out):
            ping_from(t, "station", SITE_SERVER, count=2)
            # A second apart: Linux delays a proxy ARP reply by up to 0.8 s (proxy_delay), and
            # a second echo sent meanwhile would wait in the queue and change the frame order.
            ping_from(t, "client", SITE_SERVER, count=2, interval=1, wait=2)
            ping_from(t, "client", SITE_FAR, count=2, interval=1, wait=2)
    return [out]


@scenario(
    "wide-mask-no-proxy",
    "a client with a /16 mask on a /24 ARPs for a remote server; no proxy ARP, so nobody "
    "answers and its pings fail; a correctly configured station reaches the server",
    conditions=("arp.mask-misconfig", "arp.unanswered"),
)
def wide_mask_no_proxy(out: Path) -> list[Path]:
    with Topology() as t:
        site(t, proxy_arp=False)
        with t.capture("lan", "br0", out):
            ping_from(t, "station", SITE_SERVER, count=2)
            ping_from(t, "client", SITE_SERVER, count=2, wait=5)
    return [out]


@scenario(
    "narrow-mask",
    "a client with a /25 mask pings 192.0.2.200 on its own /24 wire through the router, which "
    "forwards it back out the same interface and sends a host redirect naming the server",
    conditions=("arp.mask-misconfig",),
    errors=((5, 1),),
)
def narrow_mask(out: Path) -> list[Path]:
    with Topology() as t:
        lan(t, "client", "router", "server")
        t.address("router", "eth0", f"{ROUTER_CLIENT_SIDE}/24")
        t.address("client", "eth0", f"{CLIENT}/25")
        t.address("server", "eth0", f"{REDIRECT_SERVER}/24")
        t.route("client", "default", ROUTER_CLIENT_SIDE)
        t.enable_forwarding("router")
        for key in ("all", "eth0"):
            t.sysctl("router", f"net.ipv4.conf.{key}.send_redirects", "1")
        with t.capture("client", "eth0", out):
            ping_from(t, "client", REDIRECT_SERVER, count=3)
    return [out]


# --- duplicate, gratuitous, storm ---------------------------------------------------------


@scenario(
    "duplicate-ip",
    "two stations both configured 192.0.2.50/24; a third pings it 3 times, emptying its ARP "
    "cache in between, and each ARP request gets two replies with different MACs",
    conditions=("arp.duplicate-ip",),
)
def duplicate_ip(out: Path) -> list[Path]:
    with Topology() as t:
        lan(t, "client", "dup1", "dup2")
        t.address("client", "eth0", f"{CLIENT}/24")
        t.address("dup1", "eth0", f"{DUPLICATE}/24")
        t.address("dup2", "eth0", f"{DUPLICATE}/24")
        with t.capture("client", "eth0", out):
            for n in range(3):
                if n:
                    forget_neighbours(t, "client")
                ping(t, DUPLICATE)
                time.sleep(0.5)
    return [out]


@scenario(
    "gratuitous-arp",
    "the server (arp_notify=1) takes its interface down and up, and the kernel announces "
    "its address with a gratuitous ARP; answered pings before and after",
    conditions=("arp.gratuitous",),
)
def gratuitous_arp(out: Path) -> list[Path]:
    with Topology() as t:
        # A plain veth pair, no bridge: a bridge port comes back up a moment after the
        # interface does (link events are asynchronous) and drops the announcement.
        segment(t)
        t.sysctl("server", "net.ipv4.conf.eth0.arp_notify", "1")
        with t.capture("client", "eth0", out):
            ping(t, LOCAL_SERVER)
            t.ip("server", "link", "set", "eth0", "down")
            time.sleep(0.5)
            t.ip("server", "link", "set", "eth0", "up")
            time.sleep(0.5)
            # The client's peer lost carrier, which may or may not have emptied its ARP cache
            # by now (link events are asynchronous); empty it, so the frames come out the same.
            forget_neighbours(t, "client")
            ping(t, LOCAL_SERVER)
    return [out]


@scenario(
    "arp-storm",
    "the client sends one UDP datagram to each of 60 absent addresses (192.0.2.100-159) within "
    "a second: an ARP sweep of 3 requests per address",
    conditions=("arp.storm",),
)
def arp_storm(out: Path) -> list[Path]:
    with Topology() as t:
        segment(t)
        with t.capture("client", "eth0", out):
            ping(t, LOCAL_SERVER)
            t.run("client", [sys.executable, "-c", SWEEP])
            time.sleep(3)  # let every address run out its 3 probes
    return [out]
