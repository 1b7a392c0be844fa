"""Does `netwhy watch` keep up? Replays the benchmark's mixed capture onto a veth pair at a
given packet rate, with `netwhy watch` capturing on the other end, and checks that every packet
of interest became a fact (the same number `netwhy explain` extracts from the file).
`packets_seen` counts what passed the kernel's filter: bulk TCP data never leaves the kernel.

The replay is netwhy's own (`--send`, a raw packet socket writing the capture's frames at the
given rate), so the benchmark needs nothing beyond netwhy and root.

Usage (root): .venv/bin/python benchmarks/bench_watch.py [--packets 100000]
    [--pps 50000 100000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_capture import GENERATOR_VERSION, write_capture

from netwhy.dissect.capture import CaptureReader
from netwhy.lab.netns import Topology

NETWHY = Path(sys.executable).parent / "netwhy"
PACE_S = 0.002  # the sender catches up with the rate every 2 ms


def facts_in(path: Path) -> int:
    reader = CaptureReader(path)
    return sum(1 for fact in reader.facts() if hasattr(fact, "frame"))


def frames_of(path: Path) -> list[bytes]:
    """The frames of a little-endian pcap (what make_capture writes)."""
    data = path.read_bytes()
    frames, offset = [], 24
    while offset + 16 <= len(data):
        length = struct.unpack_from("<I", data, offset + 8)[0]
        frames.append(data[offset + 16:offset + 16 + length])
        offset += 16 + length
    return frames


def send(interface: str, capture: Path, pps: int) -> None:
    """Write the capture's frames onto the interface at `pps` frames a second; print how
    long it took."""
    frames = frames_of(capture)
    out = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    out.bind((interface, 0))
    started, sent = time.monotonic(), 0
    while sent < len(frames):
        due = min(len(frames), int((time.monotonic() - started) * pps) + 1)
        for frame in frames[sent:due]:
            out.send(frame)
        sent = due
        time.sleep(PACE_S)
    print(time.monotonic() - started)


def replay(capture: Path, pps: int, expected_facts: int, packets: int) -> dict[str, object]:
    with Topology() as lab:
        lab.add_namespace("wire")
        lab.add_namespace("watch")
        lab.link("wire", "w0", "watch", "m0")
        duration = packets / pps + 12
        started = time.monotonic()
        watch = subprocess.Popen(
            ["ip", "netns", "exec", lab.prefix + "watch", str(NETWHY), "watch", "-i", "m0",
             "--duration", f"{duration:.0f}", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(4)  # capture running
        sent_s = float(lab.run("wire", [sys.executable, __file__, "--send", "w0", str(capture),
                                        str(pps)]).stdout)
        out, err = watch.communicate(timeout=duration + 60)
        ran_s = time.monotonic() - started
    report = json.loads(out)
    seen_facts = int(report["timings"]["facts"])
    return {
        "pps_asked": pps, "pps_sent": round(packets / sent_s), "packets_sent": packets,
        "packets_seen": report["packets"], "facts_expected": expected_facts,
        "facts_seen": seen_facts, "judged": report["timings"]["judged"],
        "judging_s": report["timings"]["judging_s"],
        "kept_up": seen_facts >= expected_facts,
        "duration_s": round(duration), "ran_s": round(ran_s, 1),
        "notes": report["notes"],
        "stderr": err.strip()[-300:],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=100_000)
    parser.add_argument("--pps", type=int, nargs="+", default=[50_000, 100_000])
    parser.add_argument("--keep", type=Path)
    parser.add_argument("--send", nargs=3, metavar=("IFACE", "CAPTURE", "PPS"),
                        help=argparse.SUPPRESS)  # the replay, run inside the namespace
    arguments = parser.parse_args()
    if arguments.send:
        interface, capture, pps = arguments.send
        send(interface, Path(capture), int(pps))
        return 0
    directory = arguments.keep or Path(tempfile.mkdtemp(prefix="netwhy-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    capture = directory / f"mixed-{arguments.packets}-seed1-v{GENERATOR_VERSION}.pcap"
    if not capture.exists():
        write_capture(capture, arguments.packets)
    expected = facts_in(capture)
    # Facts other than per-conversation UDP counts: those come from tshark's tap at the end.
    for pps in arguments.pps:
        result = replay(capture, pps, expected, arguments.packets)
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
