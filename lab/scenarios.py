"""Registry of capture scenarios.

Kernel scenarios build a topology in network namespaces, make the traffic with real tools
(ping, Python sockets from traffic.py) and capture on the client's interface, so each
capture shows the client's request and whatever the kernel answered. Scapy scenarios
(crafted.py) cover only the codes Linux never emits.

Addresses: client 192.0.2.10 on 192.0.2.0/24; on one segment the server is 192.0.2.20;
behind the router (192.0.2.1 / 203.0.113.1) the server is 203.0.113.20.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from netwhy.lab import crafted
from netwhy.lab.netns import Topology

TRAFFIC = str(Path(__file__).with_name("traffic.py"))

CLIENT = "192.0.2.10"
ROUTER_CLIENT_SIDE = "192.0.2.1"
ROUTER_SERVER_SIDE = "203.0.113.1"
LOCAL_SERVER = "192.0.2.20"
REMOTE_SERVER = "203.0.113.20"
UNROUTED = "198.51.100.7"  # a network the router has no route to
ABSENT_HOST = "203.0.113.99"  # on the server segment, but nobody has it

# DNS query for example.com/A, hand-encoded so any UDP helper can send it.
DNS_QUERY = bytes.fromhex("1d2c01000001000000000000076578616d706c6503636f6d0000010001")
# SNMPv2c GetRequest, community "public", for sysDescr.0 (1.3.6.1.2.1.1.1.0).
SNMP_GET = bytes.fromhex(
    "302902010104067075626c6963a01c0204000004d2020100020100300e300c06082b060102010101000500"
)

Run = Callable[[Path], list[Path]]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    conditions: tuple[str, ...]  # condition ids the capture should produce; empty for clean
    errors: tuple[tuple[int, int], ...]  # ICMP error (type, code) pairs the capture must hold
    made_by: str  # "kernel" or "scapy"
    run: Run  # writes the capture(s) to the given path, returns every file written
    notes: tuple[str, ...] = ()  # words the report's notes must hold (what it did not analyse)
    icmp6_errors: tuple[tuple[int, int], ...] = ()  # ICMPv6 error (type, code) pairs, likewise


SCENARIOS: dict[str, Scenario] = {}


def scenario(
    name: str,
    description: str,
    condition: str | None = None,
    code: int | None = None,
    errors: tuple[tuple[int, int], ...] = (),
    conditions: tuple[str, ...] = (),
    made_by: str = "kernel",
    notes: tuple[str, ...] = (),
    icmp6_errors: tuple[tuple[int, int], ...] = (),
) -> Callable[[Run], Run]:
    """Register a scenario. ``code`` is shorthand for the ICMP error 3/code; ``errors`` lists
    any (type, code) pairs; the capture must hold exactly those ICMP errors, and exactly the
    ICMPv6 errors (types 1-4) in ``icmp6_errors``. ``notes``: words that some note of the
    report must hold."""

    def register(run: Run) -> Run:
        expected = errors + (((3, code),) if code is not None else ())
        names = conditions + ((condition,) if condition is not None else ())
        SCENARIOS[name] = Scenario(name, description, names, expected, made_by, run, notes,
                                   icmp6_errors)
        return run

    return register


# --- topologies and helpers ---------------------------------------------------------------


def segment(t: Topology) -> None:
    """Client and server on one Ethernet segment."""
    t.add_namespace("client")
    t.add_namespace("server")
    t.link("client", "eth0", "server", "eth0")
    t.address("client", "eth0", f"{CLIENT}/24")
    t.address("server", "eth0", f"{LOCAL_SERVER}/24")


def routed(t: Topology, server_mtu: int | None = None) -> None:
    """Client -> router -> server; the router knows only its two connected networks."""
    for ns in ("client", "router", "server"):
        t.add_namespace(ns)
    t.link("client", "eth0", "router", "eth0")
    t.link("router", "eth1", "server", "eth0", mtu=server_mtu)
    t.address("client", "eth0", f"{CLIENT}/24")
    t.address("router", "eth0", f"{ROUTER_CLIENT_SIDE}/24")
    t.address("router", "eth1", f"{ROUTER_SERVER_SIDE}/24")
    t.address("server", "eth0", f"{REMOTE_SERVER}/24")
    t.route("client", "default", ROUTER_CLIENT_SIDE)
    t.route("server", "default", ROUTER_SERVER_SIDE)
    t.enable_forwarding("router")


def traffic(*args: str) -> list[str]:
    return [sys.executable, TRAFFIC, *args]


def ask(client: subprocess.Popen[str], payload: bytes) -> str:
    """Have a running ``udp-client`` send one datagram; return its outcome line."""
    assert client.stdin is not None and client.stdout is not None
    client.stdin.write(payload.hex() + "\n")
    client.stdin.flush()
    return client.stdout.readline().strip()


def udp_tries(t: Topology, dst: str, port: int, payload: bytes, tries: int, *flags: str) -> None:
    client = t.start("client", traffic("udp-client", dst, str(port), "--wait", "0.5", *flags))
    for _ in range(tries):
        ask(client, payload)
        time.sleep(0.2)
    t.stop(client)


def ping(t: Topology, dst: str, *options: str) -> None:
    # check=False: a failing ping is the point of most scenarios.
    t.run("client", ["ping", "-n", "-c", "1", "-W", "1", *options, dst], check=False)


def tcp_connect(t: Topology, dst: str, port: int, wait: float = 2.0) -> None:
    t.run("client", traffic("tcp-client", dst, str(port), "--wait", str(wait)))


# --- one server segment -------------------------------------------------------------------


@scenario(
    "udp-closed-port",
    "3 UDP datagrams to udp/9999 where nothing listens; the server answers port unreachable",
    condition="icmp.unreachable.port", code=3,
)
def udp_closed_port(out: Path) -> list[Path]:
    with Topology() as t:
        segment(t)
        with t.capture("client", "eth0", out):
            udp_tries(t, LOCAL_SERVER, 9999, b"netwhy lab probe\n", 3)
    return [out]


@scenario(
    "snmp-no-agent",
    "3 SNMP GetRequests to udp/161 on a host without an SNMP agent; port unreachable",
    condition="icmp.unreachable.port", code=3,
)
def snmp_no_agent(out: Path) -> list[Path]:
    with Topology() as t:
        segment(t)
        with t.capture("client", "eth0", out):
            udp_tries(t, LOCAL_SERVER, 161, SNMP_GET, 3)
    return [out]


@scenario(
    "udp-service-stops",
    "a UDP echo service answers 3 requests, is killed, then 2 more get port unreachable",
    condition="icmp.unreachable.port", code=3,
)
def udp_service_stops(out: Path) -> list[Path]:
    with Topology() as t:
        segment(t)
        server = t.start("server", traffic("udp-echo", "7"), ready="ready")
        with t.capture("client", "eth0", out):
            # One client socket throughout, so every request has the same source port.
            client = t.start("client", traffic("udp-client", LOCAL_SERVER, "7", "--wait", "1"))
            for n in range(5):
                if n == 3:
                    t.stop(server)
                    time.sleep(0.3)
                ask(client, f"request {n}\n".encode())
                time.sleep(0.2)
            t.stop(client)
    return [out]


@scenario(
    "protocol-unreachable",
    "2 IP datagrams with protocol 253 (RFC 3692 testing); the server answers protocol "
    "unreachable",
    condition="icmp.unreachable.protocol", code=2,
)
def protocol_unreachable(out: Path) -> list[Path]:
    with Topology() as t:
        segment(t)
        with t.capture("client", "eth0", out):
            t.run("client", traffic("raw-send", LOCAL_SERVER, "253", "--count", "2"))
    return [out]


@scenario(
    "clean",
    "ordinary traffic only: ARP, 2 answered pings, a complete TCP exchange, a UDP echo",
)
def clean(out: Path) -> list[Path]:
    with Topology() as t:
        segment(t)
        t.start("server", traffic("tcp-server", "8000"), ready="ready")
        t.start("server", traffic("udp-echo", "7"), ready="ready")
        with t.capture("client", "eth0", out):
            t.run("client", ["ping", "-n", "-c", "2", "-i", "0.2", LOCAL_SERVER])
            tcp_connect(t, LOCAL_SERVER, 8000)
            udp_tries(t, LOCAL_SERVER, 7, b"hello\n", 1)
    return [out]


# --- behind a router ----------------------------------------------------------------------


@scenario(
    "net-unreachable",
    "the router has no route to 198.51.100.0/24; a DNS query, a TCP SYN and a ping each get "
    "network unreachable",
    condition="icmp.unreachable.net", code=0,
)
def net_unreachable(out: Path) -> list[Path]:
    with Topology() as t:
        routed(t)
        with t.capture("client", "eth0", out):
            # One second apart: the router's no-route errors and ICMP sending share one
            # per-client token bucket, and three quick errors exhaust it (the ping got none).
            udp_tries(t, UNROUTED, 53, DNS_QUERY, 1)
            time.sleep(1)
            tcp_connect(t, UNROUTED, 443)
            time.sleep(1)
            ping(t, UNROUTED)
    return [out]


@scenario(
    "host-down-behind-router",
    "TCP SYNs and a ping to an absent host behind the router; its ARP fails, it answers host "
    "unreachable",
    condition="icmp.unreachable.host", code=1,
)
def host_down_behind_router(out: Path) -> list[Path]:
    # Second file: the router's server-side interface, with its unanswered ARP requests.
    server_side = out.with_name(out.stem + ".server-side.pcapng")
    with Topology() as t:
        routed(t)
        with t.capture("client", "eth0", out), t.capture("router", "eth1", server_side):
            # Both at once: the router queues them while it ARPs (about 3 s), then fails both.
            pinger = t.start("client", ["ping", "-n", "-c", "1", "-W", "5", ABSENT_HOST])
            tcp_connect(t, ABSENT_HOST, 22, wait=6)
            pinger.wait(timeout=10)
    return [out, server_side]


@scenario(
    "path-mtu-df",
    "the router's link to the server has MTU 1280; a 1400-byte ping and UDP datagram with DF "
    "get fragmentation needed",
    condition="icmp.unreachable.frag-needed", code=4,
)
def path_mtu_df(out: Path) -> list[Path]:
    with Topology() as t:
        routed(t, server_mtu=1280)
        with t.capture("client", "eth0", out):
            ping(t, REMOTE_SERVER, "-M", "do", "-s", "1400")
            # Forget the learned path MTU, or the kernel refuses the next big send locally.
            t.run("client", ["ip", "route", "flush", "cache"])
            udp_tries(t, REMOTE_SERVER, 5001, bytes(1400), 1, "--df")
    return [out]


@scenario(
    "strict-source-route",
    "2 DNS queries strictly source-routed via the router, whose next hop is indirect; source "
    "route failed",
    condition="icmp.unreachable.source-route", code=5,
)
def strict_source_route(out: Path) -> list[Path]:
    with Topology() as t:
        routed(t)
        # Linux honours source routes only when told to; the route makes the next hop indirect,
        # which a strict source route forbids (ip_forward: is_strictroute && rt_uses_gateway).
        for key in ("all", "eth0"):
            t.sysctl("router", f"net.ipv4.conf.{key}.accept_source_route", "1")
        t.route("router", "198.51.100.0/24", "203.0.113.254")
        with t.capture("client", "eth0", out):
            udp_tries(t, UNROUTED, 53, DNS_QUERY, 2, "--ssrr", ROUTER_CLIENT_SIDE)
    return [out]


def firewall_reject(icmp_type: str) -> Run:
    """A scenario where the router's forward chain rejects tcp/8080 with ``icmp_type``."""
    ruleset = f"""
table ip netwhy_lab {{
    chain forward {{
        type filter hook forward priority filter; policy accept;
        tcp dport 8080 reject with icmp type {icmp_type}
    }}
}}
"""

    def run(out: Path) -> list[Path]:
        with Topology() as t:
            routed(t)
            t.run("router", ["nft", "-f", "-"], input=ruleset)
            # The server listens, so only the firewall stands between client and service.
            t.start("server", traffic("tcp-server", "8080"), ready="ready")
            with t.capture("client", "eth0", out):
                tcp_connect(t, REMOTE_SERVER, 8080)
        return [out]

    return run


scenario(
    "admin-prohibited",
    "the router's nftables forward chain rejects a TCP SYN to tcp/8080 with admin-prohibited",
    condition="icmp.unreachable.admin-prohibited", code=13,
)(firewall_reject("admin-prohibited"))

scenario(
    "host-prohibited",
    "the router's nftables forward chain rejects a TCP SYN to tcp/8080 with host-prohibited",
    condition="icmp.unreachable.host-prohibited", code=10,
)(firewall_reject("host-prohibited"))

scenario(
    "net-prohibited",
    "the router's nftables forward chain rejects a TCP SYN to tcp/8080 with net-prohibited",
    condition="icmp.unreachable.net-prohibited", code=9,
)(firewall_reject("net-prohibited"))


# --- scapy-crafted ------------------------------------------------------------------------

for _spec in crafted.CRAFTED:
    SCENARIOS["crafted-" + _spec.name] = Scenario(
        "crafted-" + _spec.name,
        f"scapy: ICMP 3/{_spec.code}, {_spec.description}",
        (_spec.condition,),
        ((3, _spec.code),),
        "scapy",
        lambda out, spec=_spec: crafted.write(spec, out),
    )
