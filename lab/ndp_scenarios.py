"""IPv6 Neighbor Discovery (RFC 4861): unanswered solicitations, duplicate addresses, router
advertisements (a rogue one, one withdrawing the router), redirects, VRRPv3 failover and an
ordinary busy link.

Namespaces are made with ``ipv6=True`` (no DAD, no router solicitations, quick MLD reports);
where a scenario needs duplicate address detection it turns it on for one interface.
Every station on the captured link has a fixed MAC (02:00:00:00:00:xx), so its link-local
and SLAAC addresses (EUI-64, fe80::ff:fe00:xx) are the same in every run.

Linux never sends Router Advertisements (that is radvd's job, and radvd is not installed
here): they are built by scapy in the lab's process and sent as Ethernet frames from the
router's (or the rogue's) own interface, with its real MAC and link-local address, so every
other packet is the kernels' reaction. The invalid redirect is scapy's alone (fixed times).

Addresses: the client's link is 2001:db8:1::/64 (client 2001:db8:1::10, or its SLAAC address
2001:db8:1::ff:fe00:a); behind the router (2001:db8:1::1, link-local fe80::ff:fe00:1, and
2001:db8:2::1) the server is 2001:db8:2::20; nobody has 2001:db8:1::99.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_RA,
    ICMPv6ND_Redirect,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptMTU,
    ICMPv6NDOptPrefixInfo,
    ICMPv6NDOptRedirectedHdr,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from netwhy.lab import crafted
from netwhy.lab.arp_scenarios import ping_from
from netwhy.lab.ipv6_scenarios import (
    CLIENT6,
    ROUTER6_CLIENT_SIDE,
    ROUTER6_SERVER_SIDE,
    SERVER6,
)
from netwhy.lab.netns import Topology
from netwhy.lab.scenarios import scenario
from netwhy.lab.spoof_scenarios import VrrpStates

PREFIX = "2001:db8:1::"  # the client's link, /64
CLIENT_MAC = crafted.CLIENT_MAC  # 02:00:00:00:00:0a
ROUTER_MAC = crafted.ROUTER_MAC  # 02:00:00:00:00:01
ROUTER_LL = "fe80::ff:fe00:1"  # EUI-64 of ROUTER_MAC
CLIENT_SLAAC = "2001:db8:1::ff:fe00:a"  # EUI-64 of CLIENT_MAC in 2001:db8:1::/64
LOCAL6 = "2001:db8:1::20"  # a server on the client's link
ABSENT_LOCAL6 = "2001:db8:1::99"  # on the client's link, but nobody has it

ROGUE_MAC = "02:00:00:00:00:66"
ROGUE_LL = "fe80::ff:fe00:66"
BAD_PREFIX = "2001:db8:bad::"
CLIENT_BAD_SLAAC = "2001:db8:bad::ff:fe00:a"

DUPLICATE6 = "2001:db8:1::50"
TARGET6 = "2001:db8:1::30"  # the redirect target: a host on the client's link

SETTLE_S = 0.5
LINKWATCH_S = 1.5

# Send each Ethernet frame given as a hex line on stdin out of one interface (a packet socket:
# the kernel adds nothing); print "sent". Standard library only, so it starts at once.
SEND_FRAMES = """
import socket, sys
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sock.bind((sys.argv[1], 0))
print("ready", flush=True)
for line in sys.stdin:
    sock.send(bytes.fromhex(line.strip()))
    print("sent", flush=True)
"""


# --- helpers ------------------------------------------------------------------------------


def fixed_macs(t: Topology, macs: dict[str, str], ifname: str = "eth0") -> None:
    """Give each namespace's ``ifname`` a fixed MAC (``macs``: namespace -> MAC) before any
    address is added: all go down, change and come up again, so their link-local addresses
    follow. Then wait for the kernel's deferred carrier events (linkwatch runs at most once a
    second): each sends the multicast listener reports again, and a peer's may repeat
    duplicate address detection of a link-local address, if DAD is on by then."""
    for ns in macs:
        t.ip(ns, "link", "set", ifname, "down")
    for ns, mac in macs.items():
        t.ip(ns, "link", "set", ifname, "address", mac)
    for ns in macs:
        t.ip(ns, "link", "set", ifname, "up")
    time.sleep(LINKWATCH_S)


def settle() -> None:
    """Wait out the multicast listener reports that new addresses and links set off (two
    each, within some 30 ms), so that a capture starting now holds none of them."""
    time.sleep(SETTLE_S)


class Schedule:
    """Sleep until a number of seconds after the schedule was made."""

    def __init__(self) -> None:
        self._start = time.monotonic()

    def until(self, offset: float) -> None:
        time.sleep(max(0.0, self._start + offset - time.monotonic()))


def mac_for(n: int) -> str:
    return f"02:00:00:00:00:{n:02x}"


def link_local(mac: str) -> str:
    """The EUI-64 link-local address of a 02:00:00:00:00:xx MAC."""
    return f"fe80::ff:fe00:{int(mac.rsplit(':', 1)[1], 16):x}"


def lan6(t: Topology, stations: dict[str, str]) -> None:
    """A bridge in namespace "lan" (no IPv6 of its own) with each station's eth0 plugged into
    it; ``stations`` maps namespace name to MAC."""
    t.add_namespace("lan")
    t.bridge("lan")
    for ns in stations:
        t.add_namespace(ns, ipv6=True)
        t.plug(ns, "eth0", "lan")
    fixed_macs(t, stations)


def dad_on(t: Topology, ns: str, ifname: str = "eth0") -> None:
    """Duplicate address detection on ``ifname`` (one probe, RFC 4862's default), starting at
    once: Linux waits a random part of router_solicitation_delay before the first probe."""
    t.sysctl(ns, f"net.ipv6.conf.{ifname}.accept_dad", "1")
    t.sysctl(ns, f"net.ipv6.conf.{ifname}.dad_transmits", "1")
    t.sysctl(ns, f"net.ipv6.conf.{ifname}.router_solicitation_delay", "0")


def slaac_host(t: Topology, ns: str, ifname: str = "eth0") -> None:
    """A host that takes router advertisements (accept_ra=1, forwarding off) and configures
    addresses from their prefixes (autoconf), with duplicate address detection."""
    t.sysctl(ns, f"net.ipv6.conf.{ifname}.accept_ra", "1")
    t.sysctl(ns, f"net.ipv6.conf.{ifname}.autoconf", "1")
    dad_on(t, ns, ifname)


def frame_sender(t: Topology, ns: str, ifname: str = "eth0") -> subprocess.Popen[str]:
    """Start a sender of raw Ethernet frames on ``ns``'s ``ifname``; feed it with :func:`emit`."""
    return t.start(ns, [sys.executable, "-c", SEND_FRAMES, ifname], ready="ready")


def emit(proc: subprocess.Popen[str], frame: Packet) -> None:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(bytes(frame).hex() + "\n")
    proc.stdin.flush()
    line = proc.stdout.readline().strip()
    if line != "sent":
        raise RuntimeError(f"frame sender: {line or 'exited'}")


def router_advertisement(
    mac: str, prefix: str, lifetime: int = 1800, preference: int = 0, mtu: int = 1500
) -> Packet:
    """A Router Advertisement as radvd sends it with its defaults (AdvCurHopLimit 64,
    AdvDefaultLifetime 1800 s, AdvValidLifetime 86400 s, AdvPreferredLifetime 14400 s), to
    all nodes from the router's link-local address, hop limit 255: a /64 prefix, on-link and
    for autoconfiguration, then the MTU and the router's link-layer address. ``preference``
    is RFC 4191's 2-bit code (0 medium, 1 high, 3 low)."""
    return (Ether(src=mac, dst="33:33:00:00:00:01")
            / IPv6(src=link_local(mac), dst="ff02::1", hlim=255)
            / ICMPv6ND_RA(chlim=64, prf=preference, routerlifetime=lifetime,
                          reachabletime=0, retranstimer=0)
            / ICMPv6NDOptPrefixInfo(prefix=prefix, prefixlen=64, L=1, A=1,
                                    validlifetime=86400, preferredlifetime=14400)
            / ICMPv6NDOptMTU(mtu=mtu)
            / ICMPv6NDOptSrcLLAddr(lladdr=mac))


def show(t: Topology, ns: str, *what: str) -> str:
    return t.run(ns, ["ip", "-6", *what]).stdout


def expect(t: Topology, ns: str, what: tuple[str, ...], present: str, absent: str = "") -> None:
    """Fail the scenario unless ``ip -6 WHAT`` in ``ns`` shows a line with every word of
    ``present`` (and, if given, none with every word of ``absent``): the capture would not
    show what the description promises."""
    lines = show(t, ns, *what).splitlines()

    def has(words: str) -> bool:
        return any(all(word in line.split() for word in words.split()) for line in lines)

    if not has(present) or (absent and has(absent)):
        raise RuntimeError(f"{ns}: ip -6 {' '.join(what)} does not show {present!r}"
                           f"{f' without {absent!r}' if absent else ''}: {lines}")


def routed_slaac(t: Topology) -> None:
    """Client -> router -> server over IPv6; the client has no address or route but what the
    router's advertisements give it (accept_ra, SLAAC, DAD on)."""
    for ns in ("client", "router", "server"):
        t.add_namespace(ns, ipv6=True)
        t.sysctl(ns, "net.ipv6.icmp.ratelimit", "0")
    t.link("client", "eth0", "router", "eth0")
    t.link("router", "eth1", "server", "eth0")
    fixed_macs(t, {"client": CLIENT_MAC, "router": ROUTER_MAC})
    slaac_host(t, "client")
    t.address("router", "eth0", f"{ROUTER6_CLIENT_SIDE}/64")
    t.address("router", "eth1", f"{ROUTER6_SERVER_SIDE}/64")
    t.address("server", "eth0", f"{SERVER6}/64")
    t.route("server", "default", ROUTER6_SERVER_SIDE)
    t.sysctl("router", "net.ipv6.conf.all.forwarding", "1")


# --- unanswered, duplicate ----------------------------------------------------------------


@scenario(
    "ndp-unanswered",
    "a ping to 2001:db8:1::99 on the client's link, which nobody has: 3 unanswered neighbour "
    "solicitations a second apart (the kernel's address unreachable goes to the ping over "
    "loopback, not on the wire); then a ping to the server on the link, resolved and answered",
    conditions=("ndp.unanswered",),
)
def ndp_unanswered(out: Path) -> list[Path]:
    with Topology() as t:
        for ns in ("client", "server"):
            t.add_namespace(ns, ipv6=True)
        t.link("client", "eth0", "server", "eth0")
        fixed_macs(t, {"client": CLIENT_MAC, "server": mac_for(0x20)})
        t.address("client", "eth0", f"{CLIENT6}/64")
        t.address("server", "eth0", f"{LOCAL6}/64")
        settle()
        with t.capture("client", "eth0", out):
            # -W 5: outlive the 3 probes (mcast_solicit) a second apart (retrans_time_ms).
            ping_from(t, "client", ABSENT_LOCAL6, wait=5)
            # Last: the server's own probe of the client comes 5 s after its reply
            # (delay_first_probe_time), after the capture has ended.
            ping_from(t, "client", LOCAL6)
    return [out]


@scenario(
    "ndp-duplicate-address",
    "on a bridge, host B (DAD on) is given 2001:db8:1::50, which host A already has: B's "
    "duplicate address detection probe (a neighbour solicitation from ::) is answered by A's "
    "advertisement and B marks the address dadfailed; then B holds it with DAD off, and each "
    "of the client's 2 solicitations for it gets two advertisements with different MACs",
    conditions=("ndp.duplicate-address",),
)
def ndp_duplicate_address(out: Path) -> list[Path]:
    with Topology() as t:
        lan6(t, {"client": CLIENT_MAC, "dupa": mac_for(0x51), "dupb": mac_for(0x52)})
        t.address("client", "eth0", f"{CLIENT6}/64")
        t.address("dupa", "eth0", f"{DUPLICATE6}/64")
        dad_on(t, "dupb")
        settle()
        with t.capture("lan", "br0", out):
            t.address("dupb", "eth0", f"{DUPLICATE6}/64")
            time.sleep(1.5)  # the probe, A's answer; B gives up on it at once
            expect(t, "dupb", ("addr", "show", "dev", "eth0"), f"{DUPLICATE6}/64 dadfailed")
            # Part 2: both hold it (DAD off), as when the duplicate is not detected.
            t.ip("dupb", "address", "del", f"{DUPLICATE6}/64", "dev", "eth0")
            t.ip("dupb", "address", "add", f"{DUPLICATE6}/64", "dev", "eth0", "nodad")
            time.sleep(0.5)
            for n in range(2):
                if n:
                    t.ip("client", "neigh", "flush", "dev", "eth0")
                ping_from(t, "client", DUPLICATE6)
                time.sleep(0.5)
    return [out]


# --- router advertisements ----------------------------------------------------------------


@scenario(
    "ndp-router-advertisement",
    "the client's IPv6 starts on its link: DAD for its link-local address, a router "
    "solicitation, and the router's advertisement (scapy: 2001:db8:1::/64 for SLAAC, MTU 1500, "
    "router lifetime 1800 s); the client configures 2001:db8:1::ff:fe00:a (its DAD probe) and "
    "a default route via the router's link-local address, and pings the server behind it",
    conditions=("ndp.router-advertisement",),
)
def ndp_router_advertisement(out: Path) -> list[Path]:
    with Topology() as t:
        routed_slaac(t)
        t.sysctl("client", "net.ipv6.conf.eth0.router_solicitations", "3")
        t.sysctl("client", "net.ipv6.conf.eth0.disable_ipv6", "1")
        radvd = frame_sender(t, "router")
        settle()
        with t.capture("client", "eth0", out):
            # IPv6 starts on the interface, as when it joins the link: DAD for the link-local
            # address (1 s), then a router solicitation at once.
            t.sysctl("client", "net.ipv6.conf.eth0.disable_ipv6", "0")
            time.sleep(1.4)
            emit(radvd, router_advertisement(ROUTER_MAC, PREFIX))  # radvd answers within 0.5 s
            time.sleep(1.5)  # the new address's DAD
            expect(t, "client", ("addr", "show", "dev", "eth0"), f"{CLIENT_SLAAC}/64 dynamic",
                   absent="tentative")
            expect(t, "client", ("route",), f"default via {ROUTER_LL} proto ra")
            ping_from(t, "client", SERVER6, count=2)
    return [out]


@scenario(
    "ndp-rogue-router",
    "the client has an address and default route from the router's advertisement (scapy, "
    "2001:db8:1::/64) and pings the server behind it; then a station that is no router "
    "(forwarding off) advertises 2001:db8:bad::/64 and itself as default router with high "
    "preference (scapy, twice): the client configures 2001:db8:bad::ff:fe00:a (its DAD probe) "
    "and sends its next 3 pings to the rogue's MAC, which drops them",
    conditions=("ndp.rogue-router",),
)
def ndp_rogue_router(out: Path) -> list[Path]:
    with Topology() as t:
        lan6(t, {"client": CLIENT_MAC, "router": ROUTER_MAC, "rogue": ROGUE_MAC})
        t.add_namespace("server", ipv6=True)
        t.link("router", "eth1", "server", "eth0")
        slaac_host(t, "client")
        t.sysctl("rogue", "net.ipv6.conf.eth0.accept_ra", "0")  # it only talks
        t.address("router", "eth0", f"{ROUTER6_CLIENT_SIDE}/64")
        t.address("router", "eth1", f"{ROUTER6_SERVER_SIDE}/64")
        t.address("server", "eth0", f"{SERVER6}/64")
        t.route("server", "default", ROUTER6_SERVER_SIDE)
        t.sysctl("router", "net.ipv6.conf.all.forwarding", "1")
        radvd = frame_sender(t, "router")
        rogue = frame_sender(t, "rogue")
        settle()
        with t.capture("client", "eth0", out):
            emit(radvd, router_advertisement(ROUTER_MAC, PREFIX))
            time.sleep(1.5)
            expect(t, "client", ("route",), f"default via {ROUTER_LL} proto ra")
            ping_from(t, "client", SERVER6, count=2)
            for n in range(2):
                if n:
                    time.sleep(1)
                emit(rogue, router_advertisement(ROGUE_MAC, BAD_PREFIX, preference=1))
            time.sleep(0.5)
            expect(t, "client", ("addr", "show", "dev", "eth0"), f"{CLIENT_BAD_SLAAC}/64")
            expect(t, "client", ("route",), f"default via {ROGUE_LL} proto ra")
            ping_from(t, "client", SERVER6, count=3, interval=0.5)
    return [out]


@scenario(
    "ndp-router-lifetime-zero",
    "the router advertises 2001:db8:1::/64 with router lifetime 1800 s (scapy); the client "
    "configures an address and pings the server behind it; then the router advertises router "
    "lifetime 0, as radvd does when it stops; the client drops its default route, and its next "
    "2 pings to the server fail locally (network unreachable: nothing on the wire, no router "
    "solicitation); a ping to the router's on-link address still works",
    conditions=("ndp.router-lifetime-zero",),
)
def ndp_router_lifetime_zero(out: Path) -> list[Path]:
    with Topology() as t:
        routed_slaac(t)
        radvd = frame_sender(t, "router")
        settle()
        with t.capture("client", "eth0", out):
            emit(radvd, router_advertisement(ROUTER_MAC, PREFIX))
            time.sleep(1.5)
            expect(t, "client", ("route",), f"default via {ROUTER_LL} proto ra")
            ping_from(t, "client", SERVER6, count=2)
            time.sleep(0.5)
            emit(radvd, router_advertisement(ROUTER_MAC, PREFIX, lifetime=0))
            time.sleep(0.5)
            expect(t, "client", ("route",), "2001:db8:1::/64",
                   absent=f"default via {ROUTER_LL}")
            for _ in range(2):
                ping_from(t, "client", SERVER6)
                time.sleep(0.5)
            ping_from(t, "client", ROUTER6_CLIENT_SIDE)
    return [out]


# --- redirects ----------------------------------------------------------------------------


def redirect_link(t: Topology, accept_redirects: bool) -> None:
    """Client, router and a target host on one bridge. Neither host's address has an on-link
    prefix route (noprefixroute, as with an advertised prefix whose L flag is off), so they
    reach even each other via their default router, fe80::ff:fe00:1, as learned from an
    advertisement: the router forwards out the interface it came in on and redirects. The
    target heeds its redirects (and then answers directly); the client per ``accept_redirects``."""
    lan6(t, {"client": CLIENT_MAC, "router": ROUTER_MAC, "target": mac_for(0x30)})
    for ns, address in (("client", CLIENT6), ("target", TARGET6)):
        t.ip(ns, "address", "add", f"{address}/64", "dev", "eth0", "noprefixroute")
        t.ip(ns, "route", "add", "default", "via", ROUTER_LL, "dev", "eth0")
    t.address("router", "eth0", f"{ROUTER6_CLIENT_SIDE}/64")
    t.sysctl("router", "net.ipv6.conf.all.forwarding", "1")
    t.sysctl("router", "net.ipv6.icmp.ratelimit", "0")
    # A host (forwarding off) heeds redirects if its interface's accept_redirects says so.
    for ns, accept in (("client", accept_redirects), ("target", True)):
        for scope in ("all", "eth0"):
            t.sysctl(ns, f"net.ipv6.conf.{scope}.accept_redirects", "1" if accept else "0")


@scenario(
    "ndp-redirect-heeded",
    "4 pings to 2001:db8:1::30 on the client's link, which the client sends via its router "
    "(its address has no on-link prefix route); the router forwards the first out the same "
    "interface and sends a redirect (ICMPv6 137) naming the target itself; the client "
    "(accept_redirects=1) solicits the target and sends the rest to it directly",
    conditions=("ndp.redirect",),
)
def ndp_redirect_heeded(out: Path) -> list[Path]:
    with Topology() as t:
        redirect_link(t, accept_redirects=True)
        settle()
        with t.capture("client", "eth0", out):
            ping_from(t, "client", TARGET6, count=4, interval=0.5)
    return [out]


@scenario(
    "ndp-redirect-ignored",
    "16 pings every 0.2 s to 2001:db8:1::30 on the client's link via the router, from a "
    "client with accept_redirects=0: it keeps sending via the router, which keeps forwarding "
    "them and redirecting (ICMPv6 137; Linux sends at most one a second after a burst)",
    conditions=("ndp.redirect.ignored",),
)
def ndp_redirect_ignored(out: Path) -> list[Path]:
    with Topology() as t:
        redirect_link(t, accept_redirects=False)
        settle()
        with t.capture("client", "eth0", out):
            # 3 s: the router's and the target's neighbour probes of the client (5 s after
            # their first use of it) come after the capture, not in either order inside it.
            ping_from(t, "client", TARGET6, count=16, interval=0.2)
    return [out]


FORGER6 = "2001:db8:1::66"  # a station on the client's link, not its router
FORGER_MAC = "02:00:00:00:00:42"
ECHO_ID = 0x0C0D


def echo6(src: str, dst: str, seq: int, reply: bool = False) -> IPv6:
    """A ping request (or its reply, one router away) as Linux ping makes them: 56 bytes."""
    if reply:
        return IPv6(src=src, dst=dst, hlim=63) / ICMPv6EchoReply(id=ECHO_ID, seq=seq,
                                                                 data=bytes(range(56)))
    return IPv6(src=src, dst=dst, hlim=64) / ICMPv6EchoRequest(id=ECHO_ID, seq=seq,
                                                               data=bytes(range(56)))


@scenario(
    "crafted-ndp-redirect-invalid",
    "scapy: pings to 2001:db8:2::20 via the router fe80::ff:fe00:1, answered; 2001:db8:1::66, "
    "not the client's first hop, sends a redirect (ICMPv6 137) naming itself from its global "
    "address with hop limit 64 (RFC 4861 section 8.1 wants the first hop's link-local address "
    "and 255); the next ping still goes via the router",
    conditions=("ndp.redirect.invalid",),
    made_by="scapy",
)
def crafted_ndp_redirect_invalid(out: Path) -> list[Path]:
    to_router = Ether(src=CLIENT_MAC, dst=ROUTER_MAC)
    from_router = Ether(src=ROUTER_MAC, dst=CLIENT_MAC)
    first = echo6(CLIENT6, SERVER6, 1)
    redirect = (Ether(src=FORGER_MAC, dst=CLIENT_MAC)
                / IPv6(src=FORGER6, dst=CLIENT6, hlim=64)
                / ICMPv6ND_Redirect(tgt=link_local(FORGER_MAC), dst=SERVER6)
                / ICMPv6NDOptDstLLAddr(lladdr=FORGER_MAC)
                / ICMPv6NDOptRedirectedHdr(pkt=bytes(first)))
    return crafted.save(out, [
        (0.0, to_router / first),
        (0.0003, redirect),  # a station that sees the request and answers faster than the path
        (0.0121, from_router / echo6(SERVER6, CLIENT6, 1, reply=True)),
        (1.0, to_router / echo6(CLIENT6, SERVER6, 2)),
        (1.0119, from_router / echo6(SERVER6, CLIENT6, 2, reply=True)),
    ])


# --- VRRP ---------------------------------------------------------------------------------

VRRP6_LL = "fe80::1"  # the virtual router's link-local address, the hosts' default gateway
VRRP6_GLOBAL = "2001:db8:1::1"
BACKUP_SKEW_S = (256 - 100) / 256  # RFC 5798 Skew_Time of r2 (priority 100, 1 s adverts)
VRRP6_ROUTERS = {"r1": ("2001:db8:1::2", "2001:db8:2::2", mac_for(0x02)),
                 "r2": ("2001:db8:1::3", "2001:db8:2::3", mac_for(0x03))}
KEEPALIVED6 = """global_defs {{
    router_id {name}
    vrrp_garp_master_delay 0
    vrrp_garp_master_repeat 2
}}
vrrp_instance gateway6 {{
    state {state}
    interface eth0
    virtual_router_id 7
    priority {priority}
    advert_int 1
    use_vmac
    virtual_ipaddress {{
        {link_local}/64
        {global_address}/64
    }}
}}
"""


def start_keepalived(
    t: Topology, ns: str, config: Path, run_dir: str
) -> tuple[subprocess.Popen[str], VrrpStates]:
    """Start keepalived's VRRP process in ``ns``; start it again if it enters no state (a
    start now and then hangs before its first state, and a second start works)."""
    for _ in range(3):
        daemon = t.start(ns, [
            "/usr/sbin/keepalived", "--dont-fork", "--log-console", "--vrrp",
            "--use-file", str(config), "--pid", f"{run_dir}/{ns}.pid",
            "--vrrp_pid", f"{run_dir}/{ns}.vrrp.pid"])
        states = VrrpStates(daemon)
        if states.started():
            return daemon, states
        t.stop(daemon)
        for pid_file in Path(run_dir).glob(f"{ns}.*pid"):
            pid_file.unlink()
    raise RuntimeError(f"keepalived in {ns} entered no VRRP state in three starts")


@scenario(
    "ipv6-vrrp-failover",
    "two keepalived routers share the gateway fe80::1 and 2001:db8:1::1 by VRRPv3 with a "
    "virtual MAC (use_vmac, 00:00:5e:00:02:07); the client resolves the gateway (answered by "
    "the virtual MAC) and pings a server behind it; the master is stopped and the backup takes "
    "over, announcing both addresses by unsolicited advertisements with the same virtual MAC: "
    "nothing wrong",
)
def ipv6_vrrp_failover(out: Path) -> list[Path]:
    with Topology() as t, tempfile.TemporaryDirectory(prefix="netwhy-vrrp6-") as run_dir:
        lan6(t, {"client": CLIENT_MAC} | {ns: mac for ns, (_, _, mac) in VRRP6_ROUTERS.items()})
        t.add_namespace("back")
        t.bridge("back")
        t.add_namespace("server", ipv6=True)
        for ns in ("r1", "r2", "server"):
            t.plug(ns, "eth1" if ns != "server" else "eth0", "back", port=ns)
        t.address("client", "eth0", f"{CLIENT6}/64")
        t.ip("client", "route", "add", "default", "via", VRRP6_LL, "dev", "eth0")
        for ns, (front, back, _) in VRRP6_ROUTERS.items():
            t.address(ns, "eth0", f"{front}/64")
            t.address(ns, "eth1", f"{back}/64")
            t.sysctl(ns, "net.ipv6.conf.all.forwarding", "1")
        t.address("server", "eth0", f"{SERVER6}/64")
        # Replies go back through r1, whose kernel forwards whether keepalived runs or not.
        t.route("server", "default", VRRP6_ROUTERS["r1"][1])
        daemons, states = {}, {}
        for ns, state, priority in (("r1", "MASTER", 200), ("r2", "BACKUP", 100)):
            config = Path(run_dir) / f"{ns}.conf"
            config.write_text(KEEPALIVED6.format(
                name=ns, state=state, priority=priority, link_local=VRRP6_LL,
                global_address=VRRP6_GLOBAL))
            daemons[ns], states[ns] = start_keepalived(t, ns, config, run_dir)
        states["r1"].wait("MASTER")  # and announces the virtual MAC
        # The master advertises every second from now on: the capture starts and every ping
        # goes out half-way between two advertisements, so the frames keep their order.
        master = Schedule()
        master.until(2.3)  # r2 has heard it by then
        with t.capture("lan", "br0", out):
            master.until(3.5)
            ping_from(t, "client", SERVER6, count=2, interval=1)
            # keepalived's priority 0 advertisement as it stops: r2 takes over after its skew
            # time and sends unsolicited advertisements at once. Not waited for: r1 takes
            # a second to exit, and the schedule goes on.
            stopped = Schedule()
            daemons["r1"].send_signal(signal.SIGTERM)
            states["r2"].wait("MASTER")
            for offset in (0.5, 1.5):
                stopped.until(BACKUP_SKEW_S + offset)
                ping_from(t, "client", SERVER6)
            # Over 0.8 s before the client's probe of r1's link-local address (5 s after r1
            # solicited the client), which is not in the capture.
        t.stop(daemons["r1"])
    return [out]


# --- an ordinary link ---------------------------------------------------------------------

NORMAL_HOSTS = {"alpha": 0x11, "beta": 0x12, "gamma": 0x13, "delta": 0x14}


def normal_address(ns: str) -> str:
    return f"{PREFIX}{NORMAL_HOSTS[ns]:x}"


DELTA_RENUMBERED = "2001:db8:1::44"


@scenario(
    "ndp-normal",
    "four hosts on a bridge: gamma's address comes up with duplicate address detection (its "
    "probe, unanswered); delta is renumbered (a new address 2001:db8:1::44: its DAD probe, "
    "then an unsolicited advertisement, ndisc_notify=1; the old ::14 deprecated); the hosts "
    "ping each other, resolving each other's addresses, and 5 s after each exchange the "
    "answering host confirms the asker (a unicast solicitation, answered): nothing wrong",
)
def ndp_normal(out: Path) -> list[Path]:
    with Topology() as t:
        lan6(t, {ns: mac_for(n) for ns, n in NORMAL_HOSTS.items()})
        for ns in ("alpha", "beta", "delta"):
            t.address(ns, "eth0", f"{normal_address(ns)}/64")
        dad_on(t, "gamma")
        dad_on(t, "delta")
        t.sysctl("delta", "net.ipv6.conf.eth0.ndisc_notify", "1")
        settle()
        with t.capture("lan", "br0", out):
            # Each step on a fixed schedule, 0.7 s or more from the next: a neighbour timer
            # 5 s ahead fires on a 512 ms grid (the kernel's timer wheel), and two due closer
            # together than that may fire in either order from run to run.
            clock = Schedule()
            t.address("gamma", "eth0", f"{normal_address('gamma')}/64")
            clock.until(1.5)
            t.address("delta", "eth0", f"{DELTA_RENUMBERED}/64")  # advertised 1 s later
            clock.until(3.0)
            t.ip("delta", "address", "change", f"{normal_address('delta')}/64", "dev", "eth0",
                 "preferred_lft", "0")
            for ns, address in (("gamma", normal_address("gamma")),
                                ("delta", DELTA_RENUMBERED)):
                expect(t, ns, ("addr", "show", "dev", "eth0"), f"{address}/64 global",
                       absent=f"{address}/64 tentative")
            expect(t, "delta", ("addr", "show", "dev", "eth0"),
                   f"{normal_address('delta')}/64 deprecated")
            for step, (ns, dst, count) in enumerate((
                    ("alpha", normal_address("beta"), 2),
                    ("beta", normal_address("gamma"), 2),
                    ("gamma", normal_address("alpha"), 1),
                    ("delta", normal_address("beta"), 1),  # from its new address
                    ("alpha", DELTA_RENUMBERED, 2))):
                clock.until(4.0 + 0.7 * step)
                ping_from(t, ns, dst, count=count)
            # The answering hosts made their entries for the askers from the solicitations;
            # each is probed 5 s after its first use (delay_first_probe_time), by 12.4 s. The
            # probes come from link-local addresses the askers did not know, and their answers
            # start a second round from 14 s on: the capture ends between the two (at 13.3 s,
            # after its grace second).
            clock.until(12.3)
    return [out]

