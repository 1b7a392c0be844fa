"""ICMP scenarios beyond Destination Unreachable: echo, redirect, time exceeded, ...

Kernel scenarios follow scenarios.py (namespaces, client-side capture). Where a message has
to be malformed or unusual on purpose (a lone first fragment, a broken IP option, a
timestamp request), scapy builds the datagram here but it is sent from inside the client's
namespace (``crafted.py send``), so the kernel routes it, does the ARP, and the answer is
the real kernel's. Messages no Linux kernel sends (forged redirects, address mask replies,
source quench, types 40 and 42) are written by scapy alone, with fixed times and IDs.

More addresses, beyond scenarios.py's: a second host on the client's segment is
192.0.2.30, a second router on it 192.0.2.2 (reaching 198.51.100.0/24, where 198.51.100.7
answers). In traceroute 198.51.100.0/24 is the link between R1 (.1) and R2 (.2); in
routing-loop R2 is 203.0.113.2.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from scapy.layers.inet import ICMP, IP, UDP, IPOption_RR, fragment
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.utils import checksum

from netwhy.lab import crafted
from netwhy.lab.netns import Topology
from netwhy.lab.scenarios import (
    CLIENT,
    DNS_QUERY,
    LOCAL_SERVER,
    REMOTE_SERVER,
    ROUTER_CLIENT_SIDE,
    ROUTER_SERVER_SIDE,
    UNROUTED,
    scenario,
    segment,
    traffic,
)

CRAFTED = str(Path(crafted.__file__))

OTHER_HOST = "192.0.2.30"  # a second host on the client's segment
SECOND_ROUTER = "192.0.2.2"  # the router that really reaches 198.51.100.0/24
FAR_NET = "198.51.100.0/24"
FAR_GATEWAY = "198.51.100.1"  # the second router's side of 198.51.100.0/24
FAR_HOST = UNROUTED  # 198.51.100.7: behind the second router, or nowhere (routing loop)


# --- helpers ------------------------------------------------------------------------------


def lan(t: Topology, hosts: dict[str, str]) -> None:
    """Hosts (namespace name -> address/prefix) on one Ethernet segment, via a bridge."""
    t.add_namespace("switch")
    t.bridge("switch")
    for name, cidr in hosts.items():
        t.add_namespace(name)
        t.plug(name, "eth0", "switch")
        t.address(name, "eth0", cidr)


def drop_icmp(t: Topology, ns: str, icmp_type: str) -> None:
    """An nftables input rule in ``ns`` that silently drops one ICMP type (ARP is not IP)."""
    ruleset = f"""
table ip netwhy_lab {{
    chain input {{
        type filter hook input priority filter; policy accept;
        icmp type {icmp_type} drop
    }}
}}
"""
    t.run(ns, ["nft", "-f", "-"], input=ruleset)


def sender(t: Topology, ns: str) -> subprocess.Popen[str]:
    """Start crafted.py's scapy sender inside ``ns``; feed it datagrams with :func:`inject`."""
    # Started before the capture: scapy takes a while to import, and its timing then
    # comes from inject(), not from process start-up.
    return t.start(ns, [sys.executable, CRAFTED, "send"], ready="ready")


def inject(proc: subprocess.Popen[str], pkt: Packet) -> None:
    """Have a running sender send one IP datagram; the source address must be set."""
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(bytes(pkt).hex() + "\n")
    proc.stdin.flush()
    line = proc.stdout.readline().strip()
    if not line.startswith("sent"):
        raise RuntimeError(f"scapy sender: {line or 'exited'}")


def client_sysctl(t: Topology, key: str, value: str) -> None:
    """Set an IPv4 per-interface sysctl on the client for "all" and eth0.

    Hosts OR the two for accept_redirects and secure_redirects, so both must agree.
    """
    for scope in ("all", "eth0"):
        t.sysctl("client", f"net.ipv4.conf.{scope}.{key}", value)


# --- echo ---------------------------------------------------------------------------------


@scenario(
    "echo-ok",
    "4 pings to a server on the same segment, all answered",
    conditions=("icmp.echo.ok",),
)
def echo_ok(out: Path) -> list[Path]:
    with Topology() as t:
        segment(t)
        with t.capture("client", "eth0", out):
            t.run("client", ["ping", "-n", "-c", "4", "-i", "0.2", LOCAL_SERVER])
    return [out]


@scenario(
    "echo-no-reply-filtered",
    "3 pings to a server whose nftables input chain drops echo requests (ARP still answered) "
    "go unanswered; 2 pings to another host on the segment are answered",
    conditions=("icmp.echo.no-reply",),
)
def echo_no_reply_filtered(out: Path) -> list[Path]:
    with Topology() as t:
        lan(t, {"client": f"{CLIENT}/24", "server": f"{LOCAL_SERVER}/24",
                "other": f"{OTHER_HOST}/24"})
        drop_icmp(t, "server", "echo-request")
        with t.capture("client", "eth0", out):
            t.run("client", ["ping", "-n", "-c", "3", "-i", "1", "-W", "1", LOCAL_SERVER],
                  check=False)
            t.run("client", ["ping", "-n", "-c", "2", "-i", "0.2", OTHER_HOST])
    return [out]


# --- redirect -----------------------------------------------------------------------------


def two_routers(t: Topology) -> None:
    """Client, its gateway R1 (192.0.2.1) and R2 (192.0.2.2) on one segment; only R2 reaches
    198.51.100.0/24 (where 198.51.100.7 answers pings), and R1 routes that net via R2."""
    lan(t, {"client": f"{CLIENT}/24", "r1": f"{ROUTER_CLIENT_SIDE}/24",
            "r2": f"{SECOND_ROUTER}/24"})
    t.add_namespace("server")
    t.link("r2", "eth1", "server", "eth0")
    t.address("r2", "eth1", f"{FAR_GATEWAY}/24")
    t.address("server", "eth0", f"{FAR_HOST}/24")
    t.route("client", "default", ROUTER_CLIENT_SIDE)
    # Out the interface it came in on, towards a client on that link: R1 sends a redirect.
    t.route("r1", FAR_NET, SECOND_ROUTER)
    t.route("server", "default", FAR_GATEWAY)
    t.enable_forwarding("r1")
    t.enable_forwarding("r2")


@scenario(
    "redirect-heeded",
    "pings to 198.51.100.7 via gateway 192.0.2.1, which forwards them to 192.0.2.2 on the same "
    "segment and sends ICMP host redirects; the client ARPs for 192.0.2.2 and then sends there",
    conditions=("icmp.redirect",),
    errors=((5, 1),),
)
def redirect_heeded(out: Path) -> list[Path]:
    with Topology() as t:
        two_routers(t)
        client_sysctl(t, "accept_redirects", "1")
        # R2 is no default gateway; with secure_redirects (and shared_media off) the client
        # would take redirects only to those.
        client_sysctl(t, "secure_redirects", "0")
        with t.capture("client", "eth0", out):
            t.run("client", ["ping", "-n", "-c", "4", "-i", "0.5", FAR_HOST])
    return [out]


@scenario(
    "redirect-ignored",
    "pings every 0.2 s for 5 s to 198.51.100.7 via gateway 192.0.2.1 from a client with "
    "accept_redirects=0: it keeps sending via 192.0.2.1, which keeps sending redirects with "
    "exponential back-off",
    conditions=("icmp.redirect.ignored",),
    errors=((5, 1),),
)
def redirect_ignored(out: Path) -> list[Path]:
    with Topology() as t:
        two_routers(t)
        client_sysctl(t, "accept_redirects", "0")
        with t.capture("client", "eth0", out):
            t.run("client", ["ping", "-n", "-c", "25", "-i", "0.2", FAR_HOST])
    return [out]


FORGED_GATEWAY = "203.0.113.9"  # not on the client's subnet
FORGER = "192.0.2.66"  # not the client's first hop
FORGER_MAC = "02:00:00:00:00:42"
REMOTE = crafted.SERVER  # 198.51.100.20


def echo(src: str, dst: str, seq: int, reply: bool = False) -> IP:
    """A ping request (or its reply) as Linux ping makes them: id 0x0c0d, 56 bytes of data."""
    if reply:  # Linux answers without DF; 2 hops away, so TTL 62
        ip = IP(src=src, dst=dst, id=0x5100 + seq, ttl=62)
    else:
        ip = IP(src=src, dst=dst, id=0x3100 + seq, ttl=64, flags="DF")
    return ip / ICMP(type=0 if reply else 8, id=0x0C0D, seq=seq) / Raw(bytes(range(56)))


def quote(datagram: Packet) -> bytes:
    """What an ICMP error carries: the datagram's IP header and first 8 data bytes (RFC 792)."""
    sent = IP(bytes(datagram))
    return bytes(sent)[: sent.ihl * 4 + 8]


@scenario(
    "crafted-redirect-invalid",
    "scapy: pings to 198.51.100.20 via gateway 192.0.2.1, answered; 192.0.2.66 (not the first "
    "hop) sends an ICMP host redirect naming 203.0.113.9 (off the client's subnet); the next "
    "ping still goes via 192.0.2.1",
    conditions=("icmp.redirect.invalid",),
    errors=((5, 1),),
    made_by="scapy",
)
def crafted_redirect_invalid(out: Path) -> list[Path]:
    to_router = Ether(src=crafted.CLIENT_MAC, dst=crafted.ROUTER_MAC)
    from_router = Ether(src=crafted.ROUTER_MAC, dst=crafted.CLIENT_MAC)
    first = echo(CLIENT, REMOTE, 1)
    redirect = (Ether(src=FORGER_MAC, dst=crafted.CLIENT_MAC)
                / IP(src=FORGER, dst=CLIENT, id=0x6601, ttl=64)
                / ICMP(type=5, code=1, gw=FORGED_GATEWAY) / Raw(quote(first)))
    return crafted.save(out, [
        (0.0, to_router / first),
        (0.0003, redirect),  # a host that sees the request and answers faster than the path
        (0.0121, from_router / echo(REMOTE, CLIENT, 1, reply=True)),
        (1.0, to_router / echo(CLIENT, REMOTE, 2)),
        (1.0119, from_router / echo(REMOTE, CLIENT, 2, reply=True)),
    ])


# --- time exceeded ------------------------------------------------------------------------


def three_segments(t: Topology) -> None:
    """Client -> R1 -> R2 -> server; 198.51.100.0/24 is the link between the routers."""
    for ns in ("client", "r1", "r2", "server"):
        t.add_namespace(ns)
    t.link("client", "eth0", "r1", "eth0")
    t.link("r1", "eth1", "r2", "eth0")
    t.link("r2", "eth1", "server", "eth0")
    t.address("client", "eth0", f"{CLIENT}/24")
    t.address("r1", "eth0", f"{ROUTER_CLIENT_SIDE}/24")
    t.address("r1", "eth1", "198.51.100.1/24")
    t.address("r2", "eth0", "198.51.100.2/24")
    t.address("r2", "eth1", f"{ROUTER_SERVER_SIDE}/24")
    t.address("server", "eth0", f"{REMOTE_SERVER}/24")
    t.route("client", "default", ROUTER_CLIENT_SIDE)
    t.route("r1", "203.0.113.0/24", "198.51.100.2")
    t.route("r2", "default", "198.51.100.1")
    t.route("server", "default", ROUTER_SERVER_SIDE)
    t.enable_forwarding("r1")
    t.enable_forwarding("r2")


@scenario(
    "traceroute",
    "traceroute-style UDP probes to 203.0.113.20 ports 33434-33439, 2 each with TTL 1, 2, 3: "
    "time exceeded from R1 and R2, port unreachable from the server",
    conditions=("icmp.ttl-exceeded",),
    errors=((11, 0), (3, 3)),
)
def traceroute(out: Path) -> list[Path]:
    with Topology() as t:
        three_segments(t)
        with t.capture("client", "eth0", out):
            t.run("client", traffic("udp-probes", REMOTE_SERVER, "--max-ttl", "3",
                                    "--per-ttl", "2"))
    return [out]


@scenario(
    "routing-loop",
    "R1 and R2 each route 198.51.100.0/24 to the other; 2 pings to 198.51.100.7 bounce between "
    "them until the TTL runs out and R2 sends time exceeded (captured on both sides of R1)",
    conditions=("icmp.routing-loop",),
    errors=((11, 0),),
)
def routing_loop(out: Path) -> list[Path]:
    with Topology() as t:
        for ns in ("client", "r1", "r2"):
            t.add_namespace(ns)
        t.link("client", "eth0", "r1", "eth0")
        t.link("r1", "eth1", "r2", "eth0")
        t.address("client", "eth0", f"{CLIENT}/24")
        t.address("r1", "eth0", f"{ROUTER_CLIENT_SIDE}/24")
        t.address("r1", "eth1", f"{ROUTER_SERVER_SIDE}/24")
        t.address("r2", "eth0", "203.0.113.2/24")
        t.route("client", "default", ROUTER_CLIENT_SIDE)
        t.route("r1", FAR_NET, "203.0.113.2")
        t.route("r2", "default", ROUTER_SERVER_SIDE)  # includes 198.51.100.0/24: the loop
        t.enable_forwarding("r1")
        t.enable_forwarding("r2")
        # On R1, not the client: only there does the same datagram pass again and again.
        with t.capture("r1", ["eth0", "eth1"], out):
            t.run("client", ["ping", "-n", "-c", "2", "-i", "1", "-W", "1", FAR_HOST],
                  check=False)
    return [out]


@scenario(
    "reassembly-timeout",
    "only the first fragment of a 2008-byte UDP datagram reaches the server "
    "(ipfrag_time=2); 2 s later the server sends time exceeded in reassembly",
    conditions=("icmp.reassembly-timeout",),
    errors=((11, 1),),
)
def reassembly_timeout(out: Path) -> list[Path]:
    whole = (IP(src=CLIENT, dst=LOCAL_SERVER, id=0x2F01, ttl=64)
             / UDP(sport=40001, dport=5001) / Raw(bytes(2000)))
    first = fragment(whole, fragsize=1480)[0]  # 1500 bytes, MF set, as on an MTU-1500 link
    with Topology() as t:
        segment(t)
        # Fragments wait 30 s by default; the error comes when the queue is given up.
        t.sysctl("server", "net.ipv4.ipfrag_time", "2")
        send = sender(t, "client")
        with t.capture("client", "eth0", out):
            inject(send, first)
            time.sleep(3)
    return [out]


# --- parameter problem, timestamp ---------------------------------------------------------


@scenario(
    "parameter-problem",
    "2 DNS queries whose IP header carries a Record Route option with length 2 (too short); "
    "the server answers parameter problem, pointer 21 (the option's length octet)",
    conditions=("icmp.parameter-problem",),
    errors=((12, 0),),
)
def parameter_problem(out: Path) -> list[Path]:
    with Topology() as t:
        segment(t)
        send = sender(t, "client")
        with t.capture("client", "eth0", out):
            for n in range(2):
                # 07 02 04 00: Record Route claiming 2 octets, which cannot hold its pointer.
                bad = IPOption_RR(length=2, pointer=4)
                pkt = (IP(src=CLIENT, dst=LOCAL_SERVER, id=0x1201 + n, ttl=64, options=[bad])
                       / UDP(sport=40053, dport=53) / Raw(DNS_QUERY))
                inject(send, pkt)
                time.sleep(1)
    return [out]


def timestamp_request(dst: str, seq: int) -> IP:
    """A timestamp request as RFC 792 has it: originate = now, in ms since midnight UT,
    receive and transmit 0. Built just before sending (scapy's own default is the time it
    was imported)."""
    now_ms = int(time.time() % 86400 * 1000)
    icmp = ICMP(type=13, id=0x7473, seq=seq, ts_ori=now_ms, ts_rx=0, ts_tx=0)
    return IP(src=CLIENT, dst=dst, id=0x0D00 + seq, ttl=64) / icmp


@scenario(
    "timestamp",
    "2 ICMP timestamp requests to a server, which answers with timestamp replies; 1 to "
    "another host whose firewall drops them, unanswered",
    conditions=("icmp.timestamp",),
)
def timestamp(out: Path) -> list[Path]:
    with Topology() as t:
        lan(t, {"client": f"{CLIENT}/24", "server": f"{LOCAL_SERVER}/24",
                "other": f"{OTHER_HOST}/24"})
        drop_icmp(t, "other", "timestamp-request")
        send = sender(t, "client")
        with t.capture("client", "eth0", out):
            for seq in (1, 2):
                inject(send, timestamp_request(LOCAL_SERVER, seq))
                time.sleep(1)
            inject(send, timestamp_request(OTHER_HOST, 3))
    return [out]


# --- scapy-only: address mask, source quench, unassigned-looking types ---------------------


GATEWAY_MAC = crafted.ROUTER_MAC
OTHER_MAC = "02:00:00:00:00:1e"
SERVER_MAC = "02:00:00:00:00:14"


@scenario(
    "crafted-address-mask",
    "scapy: 2 broadcast ICMP address mask requests; 192.0.2.1 answers 255.255.255.0 and "
    "192.0.2.30 answers 255.255.0.0 each time (they disagree)",
    conditions=("icmp.address-mask",),
    made_by="scapy",
)
def crafted_address_mask(out: Path) -> list[Path]:
    timed: list[tuple[float, Packet]] = []
    for n, start in enumerate((0.0, 1.0), 1):
        request = (Ether(src=crafted.CLIENT_MAC, dst="ff:ff:ff:ff:ff:ff")
                   / IP(src=CLIENT, dst="255.255.255.255", id=0x1100 + n, ttl=64)
                   / ICMP(type=17, id=0x6D61, seq=n, addr_mask="0.0.0.0"))
        timed.append((start, request))
        for delay, (mac, src, mask) in ((0.0004, (GATEWAY_MAC, ROUTER_CLIENT_SIDE,
                                                  "255.255.255.0")),
                                        (0.0011, (OTHER_MAC, OTHER_HOST, "255.255.0.0"))):
            reply = (Ether(src=mac, dst=crafted.CLIENT_MAC)
                     / IP(src=src, dst=CLIENT, id=0x1200 + n, ttl=255)
                     / ICMP(type=18, id=0x6D61, seq=n, addr_mask=mask))
            timed.append((start + delay, reply))
    return crafted.save(out, timed)


@scenario(
    "crafted-source-quench",
    "scapy: 8 UDP datagrams streamed to 198.51.100.20 udp/5001 through router 192.0.2.1, "
    "which sends ICMP source quench quoting the fifth",
    conditions=("icmp.source-quench",),
    errors=((4, 0),),
    made_by="scapy",
)
def crafted_source_quench(out: Path) -> list[Path]:
    timed: list[tuple[float, Packet]] = []
    for n in range(8):
        datagram = (IP(src=CLIENT, dst=REMOTE, id=0x4000 + n, ttl=64, flags="DF")
                    / UDP(sport=42001, dport=5001) / Raw(n.to_bytes(4, "big") + bytes(508)))
        timed.append((n * 0.005, Ether(src=crafted.CLIENT_MAC, dst=GATEWAY_MAC) / datagram))
        if n == 4:
            quench = (Ether(src=GATEWAY_MAC, dst=crafted.CLIENT_MAC)
                      / IP(src=ROUTER_CLIENT_SIDE, dst=CLIENT, id=0x0B01, ttl=255, tos=0xC0)
                      / ICMP(type=4, code=0) / Raw(quote(datagram)))
            timed.append((n * 0.005 + 0.0002, quench))
    return crafted.save(out, timed)


ESP_SPI = 0x00001001


@scenario(
    "crafted-unknown-type",
    "scapy: 2 ICMP type 42 (RFC 8335 extended echo request, probing eth0 by name) unanswered, "
    "and an ESP packet answered with ICMP type 40 (RFC 2521 Photuris, bad SPI)",
    conditions=("icmp.unknown-type",),
    made_by="scapy",
)
def crafted_unknown_type(out: Path) -> list[Path]:
    to_server = Ether(src=crafted.CLIENT_MAC, dst=SERVER_MAC)
    to_client = Ether(src=SERVER_MAC, dst=crafted.CLIENT_MAC)
    timed: list[tuple[float, Packet]] = []
    for seq in (1, 2):
        # Identifier 0x0b0e, sequence, L bit set; then an RFC 4884 extension structure
        # (version 2) with one Interface Identification object (class 3, c-type 1: by name).
        header = (0x0B0E << 16) | (seq << 8) | 0x01
        name_object = bytes.fromhex("00080301") + b"eth0"
        extension = bytes([0x20, 0, 0, 0]) + name_object
        extension = extension[:2] + checksum(extension).to_bytes(2, "big") + extension[4:]
        probe = (IP(src=CLIENT, dst=LOCAL_SERVER, id=0x2A00 + seq, ttl=64)
                 / ICMP(type=42, code=0, unused=header) / Raw(extension))
        timed.append((seq - 1.0, to_server / probe))
    esp = (IP(src=CLIENT, dst=LOCAL_SERVER, id=0x3200, ttl=64, proto=50)
           / Raw(ESP_SPI.to_bytes(4, "big") + (1).to_bytes(4, "big") + bytes(48)))
    # Pointer 20: the offending SPI starts right after the quoted 20-byte IP header.
    photuris = (IP(src=LOCAL_SERVER, dst=CLIENT, id=0x2800, ttl=64)
                / ICMP(type=40, code=0, unused=20) / Raw(quote(esp)))
    timed += [(2.0, to_server / esp), (2.0004, to_client / photuris)]
    return crafted.save(out, timed)



# --- port sweep -----------------------------------------------------------------------------


@scenario(
    "udp-port-sweep",
    "a client sends one UDP datagram to each of 30 ports on a server where none listens",
    conditions=("scan.port",),
    errors=((3, 3),),
)
def udp_port_sweep(out: Path) -> list[Path]:
    with Topology() as t:
        segment(t)
        # Linux answers at most about one port unreachable a second per peer; a scan target
        # with the limit off shows every closed port.
        t.sysctl("server", "net.ipv4.icmp_ratelimit", "0")
        with t.capture("client", "eth0", out):
            t.run("client", traffic("udp-probes", LOCAL_SERVER, "--port", "1000",
                                    "--max-ttl", "1", "--per-ttl", "30", "--gap", "0.02"))
    return [out]
