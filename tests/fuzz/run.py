"""The long fuzz run: thousands of hostile inputs through the installed `netwhy`, each under a
time limit, judged against the contract in verdict.py. See tests/fuzz/README.md.

Usage: .venv/bin/python tests/fuzz/run.py [--mutations 1000] [--randpkt 10] [--facts 1000]
       [--limits] [--seed 1] [--timeout 60] [--workers 2] [--keep DIR]

Prints a table of cases per kind with their exit statuses, hangs and broken contracts, keeps
every input that broke it in --keep, and exits 1 if any did.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import fact_strategies
import mutations
import synthetic
import verdict
from hypothesis import HealthCheck, given, seed, settings

from netwhy.kb import load_knowledge_base

CAPTURES = Path(__file__).resolve().parent.parent / "captures"
# (scenario, packets) for --limits: storms and floods far past every state cap.
LIMITS = (("arp-storm", 2_000_000), ("arp-storm-one-station", 2_000_000),
          ("icmp-flood", 2_000_000), ("syn-scan", 200_000), ("tiny-frames", 1_000_000),
          ("huge-packet", 1))
LIMIT_TIMEOUT = 1800.0


def seed_captures() -> list[Path]:
    """The project's own captures: the lab's and the public ones."""
    found = sorted(CAPTURES.glob("*.pcapng")) + sorted((CAPTURES / "public").rglob("*.pcap*"))
    return [path for path in found if path.is_file()]


def randpkt_types() -> list[str]:
    """Every packet type this randpkt offers, as its usage text lists them."""
    usage = subprocess.run(["randpkt", "-h"], capture_output=True, text=True)
    text = usage.stdout + usage.stderr
    return re.findall(r"^\t(\S+)\s{2,}", text.split("Types:", 1)[1], flags=re.MULTILINE)


def randpkt_cases(workdir: Path, per_type: int) -> Iterator[tuple[str, str, Path]]:
    for kind in randpkt_types():
        for n in range(per_type):
            path = workdir / f"randpkt-{kind}-{n}.pcapng"
            subprocess.run(["randpkt", "-b", "1500", "-c", "100", "-t", kind, str(path)],
                           check=True, capture_output=True)
            yield f"randpkt {kind} #{n}", f"randpkt:{kind}", path


def mutation_cases(
    workdir: Path, count: int, rng: random.Random
) -> Iterator[tuple[str, str, Path]]:
    seeds, kinds = seed_captures(), list(mutations.MUTATORS)
    for n in range(count):
        kind, original = kinds[n % len(kinds)], rng.choice(seeds)
        case_seed = rng.randrange(1 << 32)
        path = workdir / f"mutated-{n}-{kind}.pcap"
        path.write_bytes(mutations.mutate(kind, case_seed, original.read_bytes()))
        yield f"{kind} of {original.name} (seed {case_seed})", f"mutated:{kind}", path


def limit_cases(workdir: Path) -> Iterator[tuple[str, str, Path]]:
    for scenario, packets in LIMITS:
        path = workdir / f"limit-{scenario}.pcap"
        written = synthetic.write_pcap(path, synthetic.SCENARIOS[scenario](packets))
        yield f"{scenario}, {written:,} packets", f"limits:{scenario}", path


def run_captures(cases, arguments: argparse.Namespace, keep: Path, measure: bool = False):
    timeout = LIMIT_TIMEOUT if measure else arguments.timeout

    def one(numbered: tuple[int, tuple[str, str, Path]]) -> verdict.Outcome:
        n, (case, kind, path) = numbered
        options = ("--json",) if n % 2 else ()  # half the reports as JSON
        outcome = verdict.run_case(case, kind, path, *options, timeout=timeout, measure=measure)
        if outcome.problem is not None:
            shutil.copy(path, keep / path.name)
        path.unlink()
        _progress(outcome)
        return outcome

    with ThreadPoolExecutor(1 if measure else arguments.workers) as pool:
        return list(pool.map(one, enumerate(cases)))


def _progress(outcome: verdict.Outcome) -> None:
    mark = "." if outcome.problem is None else "F"
    if outcome.rss_mb is not None or outcome.problem is not None:
        mark = f"\n{outcome.case}: exit {outcome.code}, {outcome.seconds:.1f} s"
        if outcome.rss_mb:
            mark += f", peak RSS netwhy {outcome.rss_mb[0]} MB, tshark {outcome.rss_mb[1]} MB"
        if outcome.problem:
            mark += f"\n  PROBLEM: {outcome.problem}\n  {outcome.stderr.strip()[-800:]}"
        mark += "\n"
    print(mark, end="", file=sys.stderr, flush=True)


def run_facts(examples: int, fuzz_seed: int, timeout: float) -> list[verdict.Outcome]:
    """Hypothesis-built facts straight into observe + diagnose + renderers, in-process."""
    kb = load_knowledge_base()
    outcomes: list[verdict.Outcome] = []

    def expire(_signal, _frame):
        raise TimeoutError(f"one example ran over {timeout:.0f} s")

    @seed(fuzz_seed)
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(fact_strategies.facts)
    def example(stream):
        started = time.monotonic()
        signal.alarm(int(timeout))
        try:
            fact_strategies.check_pipeline(stream, kb)
        finally:
            signal.alarm(0)
        outcomes.append(verdict.Outcome("facts", "facts", 0, time.monotonic() - started,
                                        None, ""))

    previous = signal.signal(signal.SIGALRM, expire)
    try:
        example()
    except Exception as error:  # hypothesis has shrunk it: report the minimal example
        problem = f"{type(error).__name__}: {error}".splitlines()[0]
        outcomes.append(verdict.Outcome("facts (shrunk)", "facts", None, 0.0, problem, ""))
    finally:
        signal.signal(signal.SIGALRM, previous)
    return outcomes


def summary(outcomes: list[verdict.Outcome], seconds: float) -> str:
    kinds = sorted({outcome.kind for outcome in outcomes})
    lines = [f"{'kind':<34} {'cases':>6} {'hangs':>6} {'broken':>7}  exit statuses"]
    for kind in kinds:
        mine = [outcome for outcome in outcomes if outcome.kind == kind]
        codes = Counter(outcome.code for outcome in mine if outcome.code is not None)
        shown = ", ".join(f"{code}: {n}" for code, n in sorted(codes.items()))
        hangs = sum(1 for outcome in mine if outcome.code is None and outcome.problem)
        broken = sum(1 for outcome in mine if outcome.problem)
        lines.append(f"{kind:<34} {len(mine):>6} {hangs:>6} {broken:>7}  {shown}")
    problems = [outcome for outcome in outcomes if outcome.problem]
    tracebacks = sum(1 for outcome in problems if outcome.problem == "traceback")
    slowest = max((o.seconds for o in outcomes if o.kind != "facts"), default=0.0)
    lines.append(f"total {len(outcomes)} cases in {seconds:.0f} s; {len(problems)} broke the "
                 f"contract ({tracebacks} tracebacks); slowest capture case {slowest:.1f} s")
    lines += [f"  {o.case}: {o.problem}" for o in problems]
    return "\n".join(lines + _refusals(outcomes))


def _refusals(outcomes: list[verdict.Outcome]) -> list[str]:
    """The one-line refusals by exit status, most frequent first, names and numbers folded."""
    lines = []
    for code in sorted({o.code for o in outcomes if o.code not in (None, *verdict.REPORTED)}):
        said = Counter(re.sub(r"\S*/\S*|\d+", "#", o.stderr.strip())
                       for o in outcomes if o.code == code)
        lines.append(f"exit {code}:")
        lines += [f"  {n:>5}  {message[:150]}" for message, n in said.most_common(6)]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mutations", type=int, default=1000, help="mutated captures")
    parser.add_argument("--randpkt", type=int, default=10, help="randpkt captures per type")
    parser.add_argument("--facts", type=int, default=1000, help="Hypothesis examples")
    parser.add_argument("--limits", action="store_true", help="also the multi-million packets")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per case")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="where inputs that broke the contract go")
    arguments = parser.parse_args()
    keep = arguments.keep or Path(tempfile.gettempdir()) / f"netwhy-fuzz-{arguments.seed}"
    keep.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="netwhy-fuzz-") as scratch:
        workdir = Path(scratch)
        rng = random.Random(arguments.seed)
        outcomes = run_facts(arguments.facts, arguments.seed, arguments.timeout)
        outcomes += run_captures(randpkt_cases(workdir, arguments.randpkt), arguments, keep)
        outcomes += run_captures(mutation_cases(workdir, arguments.mutations, rng), arguments,
                                 keep)
        if arguments.limits:
            outcomes += run_captures(limit_cases(workdir), arguments, keep, measure=True)
    print(file=sys.stderr)
    print(summary(outcomes, time.monotonic() - started))
    print(f"inputs that broke the contract, if any: {keep}")
    return 1 if any(outcome.problem for outcome in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
