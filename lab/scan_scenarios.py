"""Scans made by the real nmap against Linux hosts: ports of one host (TCP SYN, UDP), IP
protocols of one host, and sweeps of a subnet by ARP and by ping.

Every scan is kept small and quick (-p, -T5, --max-retries 1, -n for no DNS, -Pn where the
host is known up), so the captures stay a few hundred frames and their counts repeat from
one regeneration to the next; nmap randomises the order of ports, not how many it probes.
The targets answer every probe: their ICMP error rate limit is off, as on a scan target
whose limit an administrator raised, or whose errors a scanner waits out.
"""

from __future__ import annotations

import time
from pathlib import Path

from netwhy.lab.arp_scenarios import lan
from netwhy.lab.netns import Topology
from netwhy.lab.scenarios import (
    CLIENT,
    LOCAL_SERVER,
    routed,
    scenario,
    segment,
    traffic,
)

NMAP = ["nmap", "-n", "-T5", "--max-retries", "1"]
STATION = "192.0.2.11"  # another client on the scanned server's segment
SECOND_HOST = "192.0.2.30"  # the ARP sweep's second live host
SWEPT_SUBNET = "203.0.113.0/26"  # behind the router: its 203.0.113.1 and the server are up


def answer_every_probe(t: Topology, ns: str) -> None:
    """No ICMP error rate limit in ``ns``: Linux sends about one error a second per peer, and
    a thousand a second in all (bursts of 50), so a scan would see most probes unanswered."""
    t.sysctl(ns, "net.ipv4.icmp_ratelimit", "0")
    t.sysctl(ns, "net.ipv4.icmp_msgs_per_sec", "100000")
    t.sysctl(ns, "net.ipv4.icmp_msgs_burst", "100000")


def nmap(t: Topology, ns: str, *args: str) -> None:
    t.run(ns, [*NMAP, *args])


# The server's input chain drops tcp/90-99 without a word: filtered ports.
FILTERED_PORTS = """
table ip netwhy_lab {
    chain input {
        type filter hook input priority filter; policy accept;
        tcp dport 90-99 drop
    }
}
"""


@scenario(
    "scan-syn",
    "another station's TCP connect to tcp/2222 of the server is refused; then the client's "
    "nmap SYN scan (-sS) of tcp/1-100 of the server, where tcp/22 and tcp/80 listen and "
    "tcp/90-99 are dropped by its firewall",
    conditions=("scan.port", "tcp.refused"),
)
def scan_syn(out: Path) -> list[Path]:
    with Topology() as t:
        lan(t, "client", "station", "server")
        for ns, address in (("client", CLIENT), ("station", STATION), ("server", LOCAL_SERVER)):
            t.address(ns, "eth0", f"{address}/24")
        t.run("server", ["nft", "-f", "-"], input=FILTERED_PORTS)
        for port in ("22", "80"):
            t.start("server", traffic("tcp-server", port), ready="ready")
        with t.capture("lan", "br0", out):
            t.run("station", traffic("tcp-client", LOCAL_SERVER, "2222", "--wait", "2"))
            nmap(t, "client", "-sS", "-Pn", "-p", "1-100", LOCAL_SERVER)
            # Past the reply window, the station's ping ends the capture: the filtered ports
            # are silent by then, not late (silence is judged up to the last packet seen).
            time.sleep(3)
            t.run("station", ["ping", "-n", "-c", "1", "-W", "1", LOCAL_SERVER])
    return [out]


@scenario(
    "scan-udp",
    "the client's nmap UDP scan (-sU) of udp/1-30 of the server, where a UDP echo service "
    "listens on udp/7 and every other port answers port unreachable",
    conditions=("scan.port",),
    errors=((3, 3),),
)
def scan_udp(out: Path) -> list[Path]:
    with Topology() as t:
        segment(t)
        answer_every_probe(t, "server")
        t.start("server", traffic("udp-echo", "7"), ready="ready")
        with t.capture("client", "eth0", out):
            nmap(t, "client", "-sU", "-Pn", "-p", "1-30", LOCAL_SERVER)
    return [out]


@scenario(
    "scan-protocol",
    "the client's nmap IP protocol scan (-sO) of the server: every protocol number its "
    "kernel does not handle is answered by protocol unreachable",
    conditions=("scan.protocol",),
    errors=((3, 2), (3, 3)),
)
def scan_protocol(out: Path) -> list[Path]:
    with Topology() as t:
        segment(t)
        answer_every_probe(t, "server")
        with t.capture("client", "eth0", out):
            nmap(t, "client", "-sO", "-Pn", LOCAL_SERVER)
    return [out]


@scenario(
    "scan-arp-sweep",
    "the client's nmap ARP host discovery (-sn -PR) of its /24, on which two other hosts "
    "are up and answer",
    conditions=("scan.sweep",),
)
def scan_arp_sweep(out: Path) -> list[Path]:
    with Topology() as t:
        lan(t, "client", "server", "second")
        for ns, address in (("client", CLIENT), ("server", LOCAL_SERVER),
                            ("second", SECOND_HOST)):
            t.address(ns, "eth0", f"{address}/24")
        with t.capture("client", "eth0", out):
            nmap(t, "client", "-sn", "-PR", "192.0.2.0/24")
    return [out]


@scenario(
    "scan-ping-sweep",
    "the client's nmap ping sweep (-sn -PE) of 203.0.113.0/26 behind the router: the router "
    "and the server answer, and the router answers host unreachable for every absent host",
    conditions=("scan.sweep",),
    errors=((3, 1),),
)
def scan_ping_sweep(out: Path) -> list[Path]:
    with Topology() as t:
        routed(t)
        answer_every_probe(t, "router")
        with t.capture("client", "eth0", out):
            nmap(t, "client", "-sn", "-PE", SWEPT_SUBNET)
            time.sleep(4)  # the router gives up on each absent host's ARP after 3 s
    return [out]

