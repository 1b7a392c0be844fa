"""Benign look-alikes of failures: traffic that a careless reading would call broken, made by
the real kernel so that the rules that rule them out are tested on what hosts really send."""

from __future__ import annotations

import time
from pathlib import Path

from netwhy.lab.netns import Topology
from netwhy.lab.scenarios import (
    CLIENT,
    LOCAL_SERVER,
    REMOTE_SERVER,
    routed,
    scenario,
    segment,
    tcp_connect,
    traffic,
    udp_tries,
)

# A DNS query for example.com's A record (RFC 1035 section 4.1), as a stub resolver sends it.
DNS_QUERY = bytes.fromhex("123401000001000000000000076578616d706c6503636f6d0000010001")


@scenario(
    "late-dns-reply",
    "a resolver gives up after 0.5 s; the capture starts after its query and sees only the "
    "server's answer 2.5 s later, which the client's kernel refuses with port unreachable",
    condition="icmp.unreachable.port", code=3,
)
def late_dns_reply(out: Path) -> list[Path]:
    with Topology() as t:
        segment(t)
        t.start("server", traffic("udp-echo", "53", "--delay", "2.5"), ready="ready")
        udp_tries(t, LOCAL_SERVER, 53, DNS_QUERY, 1)  # before the capture starts
        with t.capture("client", "eth0", out):
            time.sleep(2.5)
    return [out]


@scenario(
    "parallel-ports",
    "a client tries tcp/139 and tcp/445 on the same server at once, as SMB clients do: 139 "
    "is refused, 445 answers and carries the session",
    conditions=("tcp.refused",),
)
def parallel_ports(out: Path) -> list[Path]:
    with Topology() as t:
        segment(t)
        t.start("server", traffic("tcp-server", "445"), ready="ready")
        with t.capture("client", "eth0", out):
            tcp_connect(t, LOCAL_SERVER, 139)
            tcp_connect(t, LOCAL_SERVER, 445)
    return [out]


@scenario(
    "peer-connects-back",
    "two routing peers on tcp/179: the client's attempt is refused while the other side has "
    "no listener, then the other side connects to the client's listener and it works",
    conditions=("tcp.refused",),
)
def peer_connects_back(out: Path) -> list[Path]:
    with Topology() as t:
        segment(t)
        t.start("client", traffic("tcp-server", "179"), ready="ready")
        with t.capture("client", "eth0", out):
            tcp_connect(t, LOCAL_SERVER, 179)
            time.sleep(1.0)
            t.run("server", traffic("tcp-client", CLIENT, "179", "--wait", "2"))
    return [out]


@scenario(
    "one-way-capture",
    "a working TCP connection and DNS-like UDP exchange, recorded by a capture that keeps only "
    "what the client sends (a mirror of one direction)",
    conditions=("conversation.silent", "arp.unanswered"),
)
def one_way_capture(out: Path) -> list[Path]:
    with Topology() as t:
        segment(t)
        t.start("server", traffic("tcp-server", "8080"), ready="ready")
        t.start("server", traffic("udp-echo", "53"), ready="ready")
        with t.capture("client", "eth0", out, capture_filter=f"src host {CLIENT}"):
            time.sleep(0.5)  # dumpcap sets its filter after it says it captures: let it settle
            tcp_connect(t, LOCAL_SERVER, 8080)
            udp_tries(t, LOCAL_SERVER, 53, DNS_QUERY, 2)
            time.sleep(4.0)  # past the reply window
    return [out]


# The router's forward chain refuses tcp/8081 with a reset in the server's name.
RESET_BY_ROUTER = """
table ip netwhy_lab {
    chain forward {
        type filter hook forward priority filter; policy accept;
        tcp dport 8081 reject with tcp reset
    }
}
"""


@scenario(
    "reset-then-syn-ack",
    "behind a router: the router's firewall resets a connect to tcp/8081 in the server's name "
    "(TTL 64), then the server itself accepts tcp/8080 (TTL 63); both carry IP ID 0 with DF, "
    "which makes them look like one datagram seen twice",
    conditions=("tcp.refused",),
)
def reset_then_syn_ack(out: Path) -> list[Path]:
    with Topology() as t:
        routed(t)
        t.run("router", ["nft", "-f", "-"], input=RESET_BY_ROUTER)
        t.start("server", traffic("tcp-server", "8080"), ready="ready")
        with t.capture("client", "eth0", out):
            tcp_connect(t, REMOTE_SERVER, 8081)
            tcp_connect(t, REMOTE_SERVER, 8080)
    return [out]
