"""Conversations that fail without an ICMP error (refused, silently dropped), and a capture
mixing several failures with conversations that work."""

from __future__ import annotations

from pathlib import Path

from netwhy.lab.netns import Topology
from netwhy.lab.scenarios import (
    LOCAL_SERVER,
    REMOTE_SERVER,
    ping,
    routed,
    scenario,
    segment,
    tcp_connect,
    traffic,
    udp_tries,
)

# The server's input chain drops tcp/8080 without a word: no reset, no ICMP.
SILENT_DROP = """
table ip netwhy_lab {
    chain input {
        type filter hook input priority filter; policy accept;
        tcp dport 8080 drop
    }
}
"""


@scenario(
    "tcp-refused",
    "a TCP connect to a port where nothing listens: the server's kernel answers with a reset",
    conditions=("tcp.refused",),
)
def tcp_refused(out: Path) -> list[Path]:
    with Topology() as t:
        segment(t)
        with t.capture("client", "eth0", out):
            tcp_connect(t, LOCAL_SERVER, 2222)
    return [out]


@scenario(
    "silent-drop",
    "a TCP connect to tcp/8080, which the server's nftables input chain drops; ping still works",
    conditions=("conversation.silent",),
)
def silent_drop(out: Path) -> list[Path]:
    with Topology() as t:
        segment(t)
        t.run("server", ["nft", "-f", "-"], input=SILENT_DROP)
        t.start("server", traffic("tcp-server", "8080"), ready="ready")
        with t.capture("client", "eth0", out):
            ping(t, LOCAL_SERVER)
            # SYN and its retries at 1 s and 3 s; the capture runs past the reply window.
            tcp_connect(t, LOCAL_SERVER, 8080, wait=5.0)
    return [out]


@scenario(
    "mixed-failures",
    "behind a router: a TCP connection and a UDP echo that work, then a refused TCP port, a "
    "closed UDP port, a silently dropped TCP port and a host that is down",
    conditions=("tcp.refused", "icmp.unreachable.port", "conversation.silent",
                "icmp.unreachable.host"),
    errors=((3, 3), (3, 1)),
)
def mixed_failures(out: Path) -> list[Path]:
    with Topology() as t:
        routed(t)
        t.run("server", ["nft", "-f", "-"], input=SILENT_DROP)
        t.start("server", traffic("tcp-server", "80"), ready="ready")
        t.start("server", traffic("udp-echo", "7"), ready="ready")
        with t.capture("client", "eth0", out):
            tcp_connect(t, REMOTE_SERVER, 80)  # works
            udp_tries(t, REMOTE_SERVER, 7, b"hello", 2)  # works
            tcp_connect(t, REMOTE_SERVER, 2222)  # refused
            udp_tries(t, REMOTE_SERVER, 9999, b"hello", 2)  # port unreachable
            tcp_connect(t, REMOTE_SERVER, 8080, wait=4.0)  # silence
            tcp_connect(t, "203.0.113.99", 22, wait=4.0)  # host unreachable from the router
    return [out]
