"""Time and memory of `netwhy explain` against tshark's own expert pass, on the same capture.

Usage:
    .venv/bin/python benchmarks/bench_explain.py [--packets 100000 1000000] [--repeat 3]
        [--ipv6-share 0 0.3] [--keep DIR] [--json] [--check] [--netwhy-cmd TEMPLATE]

For each size (and each --ipv6-share: 0 is the IPv4 mix, 0.3 that mix with 30 % of the packets
IPv6) it makes (or reuses) a mixed capture with make_capture.py, then runs, strictly
alternating, `tshark -q -z expert -r FILE` and `netwhy explain FILE --json`, --repeat times
each, for their wall time and CPU time (the whole tree, from wait4). Memory is measured in a
separate run of netwhy after each pair: the peak of the summed PSS of its process tree (netwhy
plus its tshark children), sampled every 20 ms from /proc. Sampling costs a quarter of a core
(smaps_rollup walks every mapping of every process), which on two cores slows a program that
uses both, like netwhy, and not one that uses one, like tshark: timed runs are not sampled.
tshark's peak is its own maximum RSS, from wait4 (one process, nothing to sum). It prints
medians, packets/s, peak memory and netwhy's time as a ratio of tshark's: the ratio is what is
comparable across machines and noisy runs, the seconds are not.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_capture import GENERATOR_VERSION, share, write_capture

GOAL_TIME_RATIO = 1.0  # netwhy explain may take at most tshark's expert pass
GOAL_PEAK_MB = 300.0  # netwhy plus its tshark children
SAMPLE_S = 0.02
NETWHY_OK = (0, 1)  # netwhy exits 1 when it has findings: that is a successful run
PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 1024 * 1024
HEAD_BYTES = 1 << 16
HAVE_CHILDREN_FILES = Path(f"/proc/self/task/{threading.get_native_id()}/children").exists()


# --- process tree memory ---------------------------------------------------------------------


def children(pid: int) -> list[int]:
    """Direct children of pid, from /proc/PID/task/*/children (or by scanning ppids)."""
    if not HAVE_CHILDREN_FILES:
        return [int(p) for p, ppid in _all_ppids().items() if ppid == pid]
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found.extend(int(child) for child in handle.read().split())
        except OSError:
            continue  # the thread or process ended between listing and reading
    return found


def _all_ppids() -> dict[str, int]:
    ppids = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    # the command name may hold spaces: fields resume after its ')'
                    ppids[entry] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return ppids


def tree(root: int) -> list[int]:
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(children(pid))
    return pids


def rss_bytes(pid: int) -> int:
    """The process's proportional set size (PSS): its private pages, plus its share of pages it
    shares (two tsharks map the same 80 MB of libwireshark: summed RSS would count it twice)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0  # gone already


def command_name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as handle:
            return handle.read().strip()
    except OSError:
        return "?"


class TreeSampler(threading.Thread):
    """Samples the summed PSS of root's process tree until stopped (if `sampling`); kills it
    on timeout. Also keeps each command's own peak, to tell whether Python or tshark
    dominates."""

    def __init__(self, root: int, timeout_s: float, sampling: bool) -> None:
        super().__init__(daemon=True)
        self.root, self.timeout_s, self.sampling = root, timeout_s, sampling
        self.peak = 0
        self.peak_by_command: dict[str, int] = {}
        self.timed_out = False
        self.halt = threading.Event()

    def sample(self) -> None:
        total = 0
        for pid in tree(self.root):
            rss = rss_bytes(pid)
            if not rss:
                continue  # exited (or a zombie) since the tree was listed
            total += rss
            # read the name each time: a child forked from Python becomes tshark at exec
            name = command_name(pid)
            self.peak_by_command[name] = max(self.peak_by_command.get(name, 0), rss)
        self.peak = max(self.peak, total)

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        while not self.halt.is_set():
            if self.sampling:
                self.sample()
            if time.monotonic() > deadline:
                self.timed_out = True
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.root, signal.SIGKILL)  # the session we started for it
                return
            self.halt.wait(SAMPLE_S)


# --- one run ---------------------------------------------------------------------------------


@dataclass
class Run:
    wall_s: float
    cpu_s: float
    peak_tree_mb: float
    max_single_mb: float  # largest single process (wait4's ru_maxrss): a floor for the peak
    peak_by_command_mb: dict[str, float]
    returncode: int
    timed_out: bool
    stdout_head: str = field(repr=False)  # where netwhy's JSON has its timings
    stderr: str = field(repr=False)


def run_measured(argv: list[str], timeout_s: float, sampling: bool) -> Run:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        # A new session, so a timeout or ^C can end the whole tree by its process group.
        process = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
        sampler = TreeSampler(process.pid, timeout_s, sampling)
        sampler.start()
        try:
            # wait4, not Popen.wait: it also reports the CPU time and maxrss of the reaped tree
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            raise
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        sampler.halt.set()
        sampler.join()
        out.seek(0)
        err.seek(0)
        single_mb = usage.ru_maxrss / 1024  # KiB on Linux
        return Run(
            wall_s=wall,
            cpu_s=usage.ru_utime + usage.ru_stime,
            # Sampling can miss a short peak; the largest single process is a floor for it
            # (and all there is of an unsampled run).
            peak_tree_mb=max(sampler.peak / MB, single_mb),
            max_single_mb=single_mb,
            peak_by_command_mb={name: rss / MB for name, rss in sampler.peak_by_command.items()},
            returncode=process.returncode,
            timed_out=sampler.timed_out,
            # Only the head: a report can be tens of MB, and what this process holds when it
            # forks the next run counts in that run's maxrss (Linux keeps it across exec).
            stdout_head=out.read(HEAD_BYTES).decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
        )


# --- captures --------------------------------------------------------------------------------


def ensure_capture(directory: Path, packets: int, seed: int, ipv6_share: float = 0.0) -> Path:
    """The cached capture for this size and mix, made first if missing (atomically, via
    rename)."""
    directory.mkdir(parents=True, exist_ok=True)
    mix = f"-ipv6share{ipv6_share:g}" if ipv6_share else ""
    path = directory / f"mixed-{packets}-seed{seed}{mix}-v{GENERATOR_VERSION}.pcap"
    if not path.exists():
        partial = path.with_suffix(".partial")
        started = time.perf_counter()
        write_capture(partial, packets, seed, ipv6_share)
        partial.rename(path)
        print(f"made {path} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return path


def count_packets(path: Path) -> int:
    """Packets in a capture, by capinfos (installed with tshark)."""
    found = subprocess.run(["capinfos", "-M", "-c", "-T", "-r", str(path)], capture_output=True,
                           text=True, check=True)
    return int(found.stdout.split("\t")[-1])


def warm_page_cache(path: Path) -> None:
    """Read the capture once so the first timed run does not pay for the disk."""
    with open(path, "rb") as handle:
        while handle.read(16 * MB):
            pass


# --- measuring one size ----------------------------------------------------------------------


@dataclass
class ToolResult:
    command: list[str]
    ok_codes: tuple[int, ...] = (0,)
    runs: list[Run] = field(default_factory=list)  # timed, not sampled
    memory_runs: list[Run] = field(default_factory=list)  # sampled (netwhy's tree)
    timings: list[dict[str, float]] = field(default_factory=list)
    error: str | None = None

    def median_wall(self) -> float | None:
        return statistics.median(r.wall_s for r in self.runs) if self.runs else None

    def measured_memory(self) -> list[Run]:
        """The sampled runs; a tool measured only by time has its unsampled runs' peaks."""
        return self.memory_runs or self.runs

    def peak_mb(self) -> float | None:
        runs = self.measured_memory()
        return max(r.peak_tree_mb for r in runs) if runs else None

    def summary(self, packets: int) -> dict[str, object]:
        wall = self.median_wall()
        return {
            "command": self.command,
            "wall_s": [round(r.wall_s, 3) for r in self.runs],
            "median_wall_s": wall and round(wall, 3),
            "packets_per_s": wall and round(packets / wall),
            "cpu_s": [round(r.cpu_s, 3) for r in self.runs],
            "peak_tree_rss_mb": [round(r.peak_tree_mb, 1) for r in self.measured_memory()],
            "max_peak_tree_rss_mb": self.peak_mb() and round(self.peak_mb() or 0, 1),
            "max_single_process_rss_mb": [round(r.max_single_mb, 1)
                                          for r in self.measured_memory()],
            "peak_rss_by_command_mb": peak_by_command(self.memory_runs),
            "timings_median": median_timings(self.timings),
            "error": self.error,
        }


def peak_by_command(runs: list[Run]) -> dict[str, float]:
    """Each command's own peak PSS over all runs (not summed, unlike the tree peak)."""
    peaks: dict[str, float] = {}
    for run in runs:
        for name, mb in run.peak_by_command_mb.items():
            peaks[name] = round(max(peaks.get(name, 0.0), mb), 1)
    return peaks


def netwhy_timings(head: str) -> dict[str, float] | None:
    """netwhy's own stage timings, from the "timings" object near the top of its JSON (absent
    from other commands measured as netwhy)."""
    found = re.search(r'"timings": (\{[^{}]*\})', head)
    try:
        timings = json.loads(found[1]) if found else None
    except ValueError:
        return None
    if not isinstance(timings, dict):
        return None
    return {k: float(v) for k, v in timings.items() if isinstance(v, int | float)}


def median_timings(timings: list[dict[str, float]]) -> dict[str, float]:
    keys = sorted({key for entry in timings for key in entry})
    return {
        key: round(statistics.median(t[key] for t in timings if key in t), 3) for key in keys
    }


def measure(capture: Path, tools: dict[str, list[str]], repeat: int,
            timeout_s: float) -> dict[str, ToolResult]:
    """Runs the tools strictly alternating, so drift in machine load hits both alike; after
    each round, netwhy once more for its memory."""
    results = {
        name: ToolResult(argv, NETWHY_OK if name == "netwhy" else (0,))
        for name, argv in tools.items()
    }
    for round_no in range(repeat):
        for name, result in results.items():
            run_one(capture, name, result, round_no, repeat, timeout_s, sampling=False)
        run_one(capture, "netwhy", results["netwhy"], round_no, repeat, timeout_s,
                sampling=True)
    return results


def run_one(capture: Path, name: str, result: ToolResult, round_no: int, repeat: int,
            timeout_s: float, sampling: bool) -> None:
    if result.error:
        return  # a failed tool is not retried; the other keeps going
    run = run_measured(result.command, timeout_s, sampling)
    what = "memory" if sampling else "time"
    print(f"  [{capture.name}] {name} {what} run {round_no + 1}/{repeat}: {run.wall_s:.2f} s, "
          f"{run.peak_tree_mb:.0f} MB", file=sys.stderr)
    if run.returncode not in result.ok_codes:
        tail = run.stderr.strip().splitlines()[-5:]
        cause = f"timed out after {timeout_s:.0f} s" if run.timed_out else "exit"
        result.error = f"{cause} {run.returncode}: " + " | ".join(tail)
        return
    if sampling:
        result.memory_runs.append(run)
        return
    result.runs.append(run)
    timings = netwhy_timings(run.stdout_head)
    if timings:
        result.timings.append(timings)


# --- report ----------------------------------------------------------------------------------


def mix_name(ipv6_share: float | None) -> str:
    if ipv6_share is None:
        return "given capture"
    if ipv6_share in (0, 1):
        return "IPv6 mix" if ipv6_share else "IPv4 mix"
    return f"IPv4 + {100 * ipv6_share:g} % IPv6 mix"


def size_report(packets: int, capture: Path, results: dict[str, ToolResult],
                ipv6_share: float | None = None) -> dict:
    tshark, netwhy = results["tshark_expert"], results["netwhy"]
    ratio = None
    if tshark.median_wall() and netwhy.median_wall():
        ratio = round((netwhy.median_wall() or 0) / (tshark.median_wall() or 1), 3)
    peak = netwhy.peak_mb()
    return {
        "packets": packets,
        "mix": mix_name(ipv6_share),
        "ipv6_share": ipv6_share,
        "capture": str(capture),
        "capture_mb": round(capture.stat().st_size / MB, 1),
        "tshark_expert": tshark.summary(packets),
        "netwhy": netwhy.summary(packets),
        "time_ratio_netwhy_over_tshark": ratio,
        "goal": {
            "time_ratio_max": GOAL_TIME_RATIO,
            "peak_mb_max": GOAL_PEAK_MB,
            "time_met": ratio is not None and ratio <= GOAL_TIME_RATIO,
            "memory_met": peak is not None and peak < GOAL_PEAK_MB,
        },
    }


def print_table(report: dict) -> None:
    print(f"\n== {report['packets']:,} packets, {report['mix']}  ({report['capture_mb']} MB, "
          f"{report['capture']}) ==")
    print(f"{'':24}{'median s':>10}{'runs s':>22}{'packets/s':>12}{'peak MB':>10}"
          f"{'CPU s':>8}")
    for label, key in (("tshark -z expert", "tshark_expert"), ("netwhy explain", "netwhy")):
        tool = report[key]
        if tool["error"]:
            print(f"{label:24}FAILED {tool['error']}")
        if not tool["wall_s"]:
            continue
        runs = " ".join(f"{w:.2f}" for w in tool["wall_s"])
        cpu = statistics.median(tool["cpu_s"])
        print(f"{label:24}{tool['median_wall_s']:>10.2f}  {runs:>20}{tool['packets_per_s']:>12,}"
              f"{tool['max_peak_tree_rss_mb']:>10.1f}{cpu:>8.2f}")
    ratio, goal = report["time_ratio_netwhy_over_tshark"], report["goal"]
    ratio_text = "n/a" if ratio is None else f"{ratio:.2f}"
    print(f"time ratio netwhy/tshark-expert: {ratio_text} (goal <= {GOAL_TIME_RATIO:.2f}: "
          f"{met(goal['time_met'])}); netwhy peak tree PSS (goal < {GOAL_PEAK_MB:.0f} MB: "
          f"{met(goal['memory_met'])})")
    by_command = report["netwhy"]["peak_rss_by_command_mb"]
    if by_command:
        print("netwhy peak PSS by process: "
              + ", ".join(f"{name} {mb:.0f} MB" for name, mb in by_command.items()))
    timings = report["netwhy"]["timings_median"]
    if timings:
        print("netwhy timings (median): "
              + ", ".join(f"{key}={value:.2f}" for key, value in timings.items()))


def fill(template: str, **values: object) -> list[str]:
    """Split a command template and fill in its {name} placeholders (and only those: the
    template may hold other braces, such as Python code for a stand-in)."""
    argv = shlex.split(template)
    for name, value in values.items():
        argv = [part.replace("{" + name + "}", str(value)) for part in argv]
    return argv


def met(flag: bool) -> str:
    return "met" if flag else "NOT met"


# --- main ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--packets", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="directory to keep captures in (a cache)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ipv6-share", type=share, nargs="+", default=[0.0],
                        metavar="FRACTION", help="the generated mixes: about this fraction of "
                        "their packets IPv6 (default 0: IPv4 only; e.g. 0 0.3 for both)")
    parser.add_argument("--capture", type=Path, nargs="+", default=[],
                        help="measure these captures too (e.g. one from make_lab_capture.py)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 if a goal is not met")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    parser.add_argument("--netwhy-cmd", default="{netwhy} explain {capture} --json",
                        help="command measured as netwhy, e.g. a stand-in for testing; "
                        "{netwhy}, {python} and {capture} are filled in")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    netwhy = Path(sys.executable).parent / "netwhy"
    if "{netwhy}" in args.netwhy_cmd and not netwhy.exists():
        print(f"{netwhy} not found: run this with the venv's python", file=sys.stderr)
        return 2
    directory = args.keep or Path(tempfile.gettempdir()) / "netwhy-bench"
    reports = []
    captures: list[tuple[int, Path, float | None]] = [
        (packets, ensure_capture(directory, packets, args.seed, ipv6_share), ipv6_share)
        for ipv6_share in args.ipv6_share for packets in args.packets
    ]
    captures += [(count_packets(path), path, None) for path in args.capture]
    for packets, capture, ipv6_share in captures:
        warm_page_cache(capture)
        tools = {
            "tshark_expert": ["tshark", "-q", "-z", "expert", "-r", str(capture)],
            "netwhy": fill(args.netwhy_cmd, netwhy=netwhy, python=sys.executable,
                           capture=capture),
        }
        report = size_report(packets, capture,
                             measure(capture, tools, args.repeat, args.timeout), ipv6_share)
        reports.append(report)
        if not args.json:
            print_table(report)
            sys.stdout.flush()  # keep the table in order with the progress lines on stderr
    if args.json:
        print(json.dumps({"machine": machine(), "sizes": reports}, indent=2))
    failed = any(r[k]["error"] for r in reports for k in ("tshark_expert", "netwhy"))
    missed = args.check and not all(
        r["goal"]["time_met"] and r["goal"]["memory_met"] for r in reports
    )
    return 1 if failed or missed else 0


def machine() -> dict[str, object]:
    version = subprocess.run(["tshark", "--version"], capture_output=True, text=True)
    return {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "tshark": version.stdout.splitlines()[0] if version.stdout else None,
        "sample_interval_s": SAMPLE_S,
    }


if __name__ == "__main__":
    sys.exit(main())
