"""A real capture for the benchmark: the Linux kernel's own traffic between two network
namespaces, about a million packets of it, with the failures of an ordinary busy link.

Usage (as root): .venv/bin/python benchmarks/make_lab_capture.py OUT.pcapng [--packets N]
Then: .venv/bin/python benchmarks/bench_explain.py --packets --capture OUT.pcapng
(`--packets` with no sizes: only the given capture is measured).

The client (10.77.0.1) streams bulk TCP to the server (10.77.0.2) from several connections in
small writes (each a segment of its own: no Nagle, no autocorking, no segmentation offload),
asks an answering UDP service and a closed UDP port, pings the server and an absent host
(10.77.0.9), and knocks on a closed TCP port. dumpcap on the server's side of the link stops
after N packets, and the traffic with it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from netwhy.lab import traffic
from netwhy.lab.netns import Topology

# Runs inside the client's namespace: bulk TCP in 200-byte writes from four connections, and
# every 10 ms a round of UDP questions, a connection to a closed port and (by ping) echoes.
CLIENT = r"""
import socket, sys, threading, time
def bulk():
    s = socket.create_connection(("10.77.0.2", 5001))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    chunk = bytes(200)
    while True:
        s.sendall(chunk)
for _ in range(4):
    threading.Thread(target=bulk, daemon=True).start()
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.setblocking(False)
port = 20000
while True:
    udp.sendto(b"question", ("10.77.0.2", 5300))
    port = 20000 + (port + 1) % 20
    udp.sendto(b"question", ("10.77.0.2", 9999))
    try:
        socket.create_connection(("10.77.0.2", 7), timeout=0.01).close()
    except OSError:
        pass
    time.sleep(0.01)
"""
SINK = r"""
import socket, threading
server = socket.create_server(("0.0.0.0", 5001))
print("ready", flush=True)
def drain(conn):
    while conn.recv(1 << 16):
        pass
while True:
    threading.Thread(target=drain, args=(server.accept()[0],), daemon=True).start()
"""


def make(path: Path, packets: int) -> None:
    with Topology() as lab:
        lab.add_namespace("client")
        lab.add_namespace("server")
        lab.link("client", "c0", "server", "s0")
        lab.address("client", "c0", "10.77.0.1/24")
        lab.address("server", "s0", "10.77.0.2/24")
        for ns, ifname in (("client", "c0"), ("server", "s0")):
            # One segment a packet on the wire, as a real NIC would show after segmentation.
            lab.ip(ns, "link", "set", ifname, "gso_max_segs", "1")
            lab.sysctl(ns, "net.ipv4.tcp_autocorking", "0")
        lab.start("server", [sys.executable, "-c", SINK], ready="ready")
        lab.start("server", [sys.executable, traffic.__file__, "udp-echo", "5300"],
                  ready="ready")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        dumpcap = lab.start("server", ["dumpcap", "-q", "-i", "s0", "-c", str(packets),
                                       "-w", str(path)], ready="Capturing on")
        lab.start("client", ["ping", "-q", "-i", "0.01", "10.77.0.2"])
        lab.start("client", ["ping", "-q", "-i", "0.5", "10.77.0.9"])
        time.sleep(0.5)
        lab.start("client", [sys.executable, "-c", CLIENT])
        started = time.monotonic()
        try:
            dumpcap.wait(timeout=600)
        except subprocess.TimeoutExpired:
            lab.stop(dumpcap)
        print(f"wrote {path} in {time.monotonic() - started:.1f} s", file=sys.stderr)
    path.chmod(0o644)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--packets", type=int, default=1_000_000)
    arguments = parser.parse_args()
    make(arguments.output, arguments.packets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
