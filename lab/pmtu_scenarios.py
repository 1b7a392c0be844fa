"""Path-MTU black holes, made by the kernel: a router whose link towards the client carries only
1400-byte packets, and an nftables rule on it that drops its own "fragmentation needed"
messages, as a firewall filtering ICMP would. The server answers a request with a short header
and a long body; the header passes, the full-size segments of the body do not.

Each scenario captures at the sender (the server, the main file) and at the receiver (the
client, `.client-side.pcapng`), since the evidence differs with the capture point.
"""

from __future__ import annotations

from pathlib import Path

from netwhy.lab.icmp6_scenarios import capture, helper
from netwhy.lab.ipv6_scenarios import SERVER6, routed_ipv6
from netwhy.lab.netns import Topology
from netwhy.lab.scenarios import REMOTE_SERVER, routed, scenario, traffic

PORT = 8080
NARROW_MTU = 1400
# The router sends fragmentation needed, and drops it on the way out: the sender never learns.
DROP_FRAG_NEEDED = """
table inet blackhole {
  chain out {
    type filter hook output priority 0;
    icmp type destination-unreachable icmp code frag-needed drop
  }
}
"""
# Ordinary loss instead: 5% of what the router forwards, at random, every size alike.
RANDOM_LOSS = """
table inet loss {
  chain forward {
    type filter hook forward priority 0;
    numgen random mod 100 < 5 drop
  }
}
"""


def narrow(t: Topology, ruleset: str, mtu_probing: bool = False) -> None:
    routed(t)
    t.ip("router", "link", "set", "eth0", "mtu", str(NARROW_MTU))
    t.run("router", ["nft", "-f", "-"], input=ruleset)
    # Linux's own black-hole detection: after a few timeouts, it retries with smaller segments.
    t.sysctl("server", "net.ipv4.tcp_mtu_probing", "1" if mtu_probing else "0")
    _serve(t)


def _serve(t: Topology, body: int = 60_000) -> None:
    t.start("server", traffic("bulk-server", str(PORT), "--body", str(body)), ready="ready")


def _download(t: Topology, out: Path, *client: str) -> list[Path]:
    """The client downloads, captured at the server (`out`) and at the client."""
    client_side = out.with_name(out.stem + ".client-side.pcapng")
    with t.capture("server", "eth0", out), t.capture("client", "eth0", client_side):
        t.run("client", traffic("bulk-client", REMOTE_SERVER, str(PORT), *client))
    return [out, client_side]


@scenario(
    "pmtu-blackhole",
    "a download through a router whose 1400-byte link drops bigger packets while its own "
    "fragmentation-needed messages are filtered: the header arrives, the body never does",
    conditions=("tcp.pmtu-blackhole",),
)
def pmtu_blackhole(out: Path) -> list[Path]:
    with Topology() as t:
        narrow(t, DROP_FRAG_NEEDED)
        return _download(t, out, "--wait", "5")


@scenario(
    "pmtu-blackhole-recovered",
    "the same black hole, with the server's tcp_mtu_probing on: after a few timeouts it "
    "retries with smaller segments and the download completes, seconds late",
    conditions=("tcp.pmtu-blackhole",),
)
def pmtu_blackhole_recovered(out: Path) -> list[Path]:
    with Topology() as t:
        narrow(t, DROP_FRAG_NEEDED, mtu_probing=True)
        return _download(t, out, "--wait", "10")


@scenario(
    "tcp-zero-window",
    "a download whose client stops reading for 4 s: its receive window fills, the server "
    "probes the zero window with tiny segments, then the transfer completes (no black hole)",
)
def tcp_zero_window(out: Path) -> list[Path]:
    with Topology() as t:
        routed(t)
        _serve(t, 400_000)
        return _download(t, out, "--small-buffer", "--pause", "4", "--expect", "400300",
                         "--wait", "10")


@scenario(
    "tcp-app-closes",
    "a client that reads the first 20 KB of a download and closes the connection, resetting "
    "what was still in flight (no black hole)",
)
def tcp_app_closes(out: Path) -> list[Path]:
    with Topology() as t:
        routed(t)
        _serve(t, 2_000_000)
        return _download(t, out, "--expect", "20000", "--wait", "5")


@scenario(
    "tcp-random-loss",
    "a download through a router that drops 5% of what it forwards at random: segments of "
    "every size are retransmitted and the download completes (no black hole)",
)
def tcp_random_loss(out: Path) -> list[Path]:
    with Topology() as t:
        routed(t)
        # One wire segment per send: segmentation offload would hand the router a few 64 KB
        # packets, and dropping one of those is not what loss on a real path looks like.
        t.ip("server", "link", "set", "eth0", "gso_max_segs", "1")
        t.run("router", ["nft", "-f", "-"], input=RANDOM_LOSS)
        _serve(t, 400_000)
        return _download(t, out, "--expect", "400300", "--wait", "10")


# IPv6: the router drops its own Packet Too Big, as a firewall that filters ICMPv6 would (RFC
# 4890 asks never to). Routers never fragment IPv6, so the sender's only way to learn is lost.
DROP_PACKET_TOO_BIG = """
table inet blackhole {
  chain out {
    type filter hook output priority 0;
    icmpv6 type packet-too-big drop
  }
}
"""


@scenario(
    "pmtu-blackhole-ipv6",
    "an IPv6 upload through a router whose link to the server carries only 1280-byte packets "
    "while its own Packet Too Big messages are filtered: the handshake and a 300-byte first "
    "segment pass, the full-size segments after it are re-sent and never acknowledged",
    conditions=("tcp.pmtu-blackhole",),
)
def pmtu_blackhole_ipv6(out: Path) -> list[Path]:
    with Topology() as t:
        routed_ipv6(t)  # the router's link to the server has MTU 1280
        t.ip("server", "link", "set", "eth0", "mtu", "1500")  # so it offers MSS 1440
        t.ip("client", "link", "set", "eth0", "gso_max_segs", "1")  # wire-sized sends
        t.run("router", ["nft", "-f", "-"], input=DROP_PACKET_TOO_BIG)
        t.start("server", helper("tcp-server", str(PORT), "--count"), ready="ready")
        # At the sender: the receiver's side of an upload shows only the small segment.
        with capture(t, "client", "eth0", out):
            t.run("client", helper("upload", SERVER6, str(PORT), "20000", "--first", "300",
                                   "--wait", "7"))
    return [out]
