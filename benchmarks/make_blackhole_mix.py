"""A benchmark mix with path-MTU black holes in it: a capture of bulk traffic (e.g. one from
make_lab_capture.py) followed by COPIES connections of the lab's black hole, each the kernel-made
`tests/captures/pmtu-blackhole.pcapng` with its own client port, one every 10 ms.

Usage: .venv/bin/python benchmarks/make_blackhole_mix.py BULK.pcapng OUT.pcapng [--copies N]
Then: .venv/bin/python benchmarks/bench_explain.py --packets --capture OUT.pcapng

netwhy must find every one of them (it prints how many the mix holds; `netwhy explain
OUT.pcapng --summary` counts what it found), at the speed and memory of the bulk alone.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

from scapy.all import TCP, rdpcap, wrpcap

BLACKHOLE = Path(__file__).parents[1] / "tests" / "captures" / "pmtu-blackhole.pcapng"
SPACING_S = 0.01


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bulk", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--copies", type=int, default=500)
    arguments = parser.parse_args()
    template = rdpcap(str(BLACKHOLE))
    client_port = next(p[TCP].sport for p in template if TCP in p and p[TCP].dport == 8080)
    last = float(subprocess.run(
        ["capinfos", "-T", "-r", "-S", "-e", str(arguments.bulk)], capture_output=True, text=True,
        check=True).stdout.split("\t")[-1])
    packets = []
    for copy in range(arguments.copies):
        port = 20_000 + copy
        shift = last + 1 + copy * SPACING_S - float(template[0].time)
        for original in template:
            if TCP not in original:
                continue  # the ARP before it: 500 copies would make an ARP storm
            packet = original.copy()
            packet.time = float(original.time) + shift
            tcp = packet[TCP]
            if tcp.sport == client_port:
                tcp.sport = port
            if tcp.dport == client_port:
                tcp.dport = port
            del tcp.chksum
            packets.append(packet)
    packets.sort(key=lambda p: p.time)
    with tempfile.TemporaryDirectory() as scratch:
        holes = Path(scratch) / "holes.pcap"
        wrpcap(str(holes), packets)
        subprocess.run(["mergecap", "-a", "-w", str(arguments.out), str(arguments.bulk),
                        str(holes)], check=True)
    print(f"{arguments.out}: the bulk capture, then {arguments.copies} black-hole connections")


if __name__ == "__main__":
    main()
