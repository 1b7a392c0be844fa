"""Does `netwhy watch` keep up? Replays the benchmark's mixed capture onto a veth pair at a
given packet rate with tcpreplay, with `netwhy watch` capturing on the other end, and checks
that every packet of interest became a fact (the same number `netwhy explain` extracts from
the file). `packets_seen` counts what passed the kernel's filter: bulk TCP data never leaves
the kernel.

Usage (root; needs tcpreplay): .venv/bin/python benchmarks/bench_watch.py [--packets 100000]
    [--pps 50000 100000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
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


def facts_in(path: Path) -> int:
    reader = CaptureReader(path)
    return sum(1 for fact in reader.facts() if hasattr(fact, "frame"))


def replay(capture: Path, pps: int, expected_facts: int, packets: int) -> dict[str, object]:
    with Topology() as lab:
        lab.add_namespace("wire")
        lab.add_namespace("watch")
        lab.link("wire", "w0", "watch", "m0")
        duration = packets / pps + 12
        watch = subprocess.Popen(
            ["ip", "netns", "exec", lab.prefix + "watch", str(NETWHY), "watch", "-i", "m0",
             "--duration", f"{duration:.0f}", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(4)  # capture running
        started = time.monotonic()
        lab.run("wire", ["tcpreplay", "-q", "-i", "w0", f"--pps={pps}", str(capture)])
        sent_s = time.monotonic() - started
        out, err = watch.communicate(timeout=duration + 60)
    report = json.loads(out)
    seen_facts = int(report["timings"]["facts"])
    return {
        "pps_asked": pps, "pps_sent": round(packets / sent_s), "packets_sent": packets,
        "packets_seen": report["packets"], "facts_expected": expected_facts,
        "facts_seen": seen_facts, "judged": report["timings"]["judged"],
        "judging_s": report["timings"]["judging_s"],
        "kept_up": seen_facts >= expected_facts,
        "stderr": err.strip()[-300:],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packets", type=int, default=100_000)
    parser.add_argument("--pps", type=int, nargs="+", default=[50_000, 100_000])
    parser.add_argument("--keep", type=Path)
    arguments = parser.parse_args()
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
