"""Regenerate the lab captures: ``python -m netwhy.lab.regenerate [OUTDIR] [SCENARIO ...]``.

Kernel scenarios need root (network namespaces, dumpcap, nftables). Prints one line per
scenario, after checking with tshark that the main capture holds exactly the ICMP errors
(and ICMPv6 errors) the scenario promises (none for "clean"); exits 1 if any capture does not.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

from netwhy.lab.catalog import SCENARIOS

DEFAULT_OUTDIR = Path(__file__).resolve().parent.parent / "tests" / "captures"
ICMP_ERRORS = "icmp.type in {3, 4, 5, 11, 12}"
ICMP6_ERRORS = "icmpv6.type in {1, 2, 3, 4}"


def tshark_fields(path: Path, display_filter: str, *fields: str) -> list[list[str]]:
    args = ["tshark", "-r", str(path), "-Y", display_filter, "-T", "fields"]
    for field in fields:
        args += ["-e", field]
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    return [line.split("\t") for line in done.stdout.splitlines()]


def icmp_errors(path: Path) -> set[tuple[int, int]]:
    """(type, code) of the ICMP errors in a capture."""
    rows = tshark_fields(path, ICMP_ERRORS, "icmp.type", "icmp.code")
    # An error quoting an ICMP echo lists the quoted type/code after the outer ones.
    return {(int(t.split(",")[0]), int(c.split(",")[0])) for t, c in rows}


def icmp6_errors(path: Path) -> set[tuple[int, int]]:
    """(type, code) of the ICMPv6 errors in a capture."""
    rows = tshark_fields(path, ICMP6_ERRORS, "icmpv6.type", "icmpv6.code")
    return {(int(t.split(",")[0]), int(c.split(",")[0])) for t, c in rows}


def packet_count(path: Path) -> int:
    return len(tshark_fields(path, "frame", "frame.number"))


def _terminate(signum: int, frame: FrameType | None) -> None:
    # Turn SIGTERM into an exception so every Topology's teardown still runs.
    sys.exit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("outdir", nargs="?", type=Path, default=DEFAULT_OUTDIR)
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                        help=f"default: all of {', '.join(SCENARIOS)}")
    args = parser.parse_args(argv)
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")

    signal.signal(signal.SIGTERM, _terminate)
    failed = []
    for name in args.scenarios or SCENARIOS:
        scenario = SCENARIOS[name]
        written = scenario.run(args.outdir / f"{name}.pcapng")
        found, found6 = icmp_errors(written[0]), icmp6_errors(written[0])
        ok = found == set(scenario.errors) and found6 == set(scenario.icmp6_errors)
        if not ok:
            failed.append(name)
        status = "ok" if ok else f"WRONG (ICMP errors {sorted(found)}, ICMPv6 {sorted(found6)})"
        files = ", ".join(f"{p.name} ({packet_count(p)} packets)" for p in written)
        print(f"{name:30} {scenario.made_by:6} {status}  {files}", flush=True)
    if failed:
        sys.exit(f"unexpected ICMP errors in: {', '.join(failed)}")


if __name__ == "__main__":
    main()
