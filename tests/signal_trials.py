"""Signals sent to a running netwhy, and what they leave behind.

Each trial starts a netwhy command in a session of its own (as a shell job is), sends a signal
after a delay to its PID or to its whole process group, and then looks for what should not be
there: temporary files beside the output or in TMPDIR, processes that carry the trial's mark
in their environment (every child inherits it), network namespaces left by `lab run`, a
traceback on stderr, or an exit status other than the one the signal calls for.

    python tests/signal_trials.py [--repeat 20] [COMMAND ...]

prints, per command, how many trials were clean. tests/test_signals.py runs a few of the same
trials in the suite.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).parent
CAPTURE = HERE / "captures" / "mixed-failures.pcapng"
NETWHY = Path(sys.executable).parent / "netwhy"
SETTLE_S = 0.5  # children get their parent-death signal within this time
STOP_S = 5.0  # the longest a signal may take to end netwhy
SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGKILL)
EXPECTED = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGKILL: -signal.SIGKILL}


def commands(workdir: Path) -> dict[str, list[str]]:
    """What each command's trials run, writing under workdir."""
    return {
        "explain": ["explain", str(CAPTURE), "--json"],
        "why": ["why", str(CAPTURE)],
        "annotate": ["annotate", str(CAPTURE), str(workdir / "out" / "annotated.pcapng")],
        "report": ["report", str(CAPTURE), str(workdir / "out" / "site")],
        "docs": ["docs", "build", str(workdir / "out" / "docs")],
        "lab": ["lab", "run", "silent-drop", "-o", str(workdir / "out" / "lab.pcapng")],
    }


@dataclass
class Trial:
    command: str
    signum: int
    delay_s: float
    group: bool
    status: int | None = None
    problems: list[str] = field(default_factory=list)
    stderr: str = ""
    stop_s: float = 0.0  # from the signal to netwhy's exit

    @property
    def clean(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        to = "group" if self.group else "pid"
        said = "; ".join(self.problems) or "clean"
        return (f"{self.command} {signal.Signals(self.signum).name} to {to} after "
                f"{self.delay_s:.1f} s: exit {self.status} {self.stop_s:.1f} s later: {said}")


def run_trial(command: str, signum: int, delay_s: float, group: bool,
              after_child: str | None = None) -> Trial:
    """`after_child`: count the delay from when a child of that name (its comm) appears, so
    that the signal lands in that phase on a fast machine as on a slow one."""
    trial = Trial(command, signum, delay_s, group)
    workdir = Path(tempfile.mkdtemp(prefix="netwhy-trial-"))
    try:
        (workdir / "out").mkdir()
        (workdir / "tmp").mkdir()
        mark = uuid.uuid4().hex
        env = {**os.environ, "TMPDIR": str(workdir / "tmp"), "NETWHY_TRIAL": mark}
        namespaces = _namespaces()
        process = subprocess.Popen(
            [str(NETWHY), *commands(workdir)[command]], stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
        if after_child is not None:
            _wait_for_child(mark, after_child, process)
        time.sleep(delay_s)
        signalled = time.monotonic()
        try:
            if group:
                os.killpg(process.pid, signum)
            else:
                process.send_signal(signum)
        except ProcessLookupError:
            pass  # already done: the trial still checks what it left
        try:
            _, stderr = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
            trial.problems.append("did not end within 60 s of the signal")
        trial.status = process.returncode
        trial.stop_s = time.monotonic() - signalled
        if trial.stop_s > STOP_S:
            trial.problems.append(f"took {trial.stop_s:.1f} s to stop")
        trial.problems += _judge_exit(process.returncode, stderr, signum)
        # Nothing cleans up after SIGKILL: only the children must be gone with netwhy.
        trial.problems += _leftovers(workdir, mark, namespaces, f"nw{process.pid}-",
                                     files=signum != signal.SIGKILL)
        trial.stderr = stderr
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return trial


def _judge_exit(status: int, stderr: str, signum: int) -> list[str]:
    problems = []
    # 0: it had finished before the signal came; -signum: the signal came as Python was
    # exiting, with the work done (a shell reports both 128 + signum).
    if status not in (0, EXPECTED[signum], -signum):
        problems.append(f"exit status {status}, expected {EXPECTED[signum]}")
    lines = [line for line in stderr.splitlines() if line.strip()]
    if any("Traceback" in line or "exception" in line.lower() for line in lines):
        problems.append(f"traceback on stderr ({len(lines)} lines)")
    elif len(lines) > 2:
        problems.append(f"{len(lines)} lines on stderr: {lines[-1][:80]}")
    return problems


def _leftovers(workdir: Path, mark: str, namespaces: set[str], prefix: str,
               files: bool) -> list[str]:
    problems = []
    deadline = time.monotonic() + SETTLE_S
    alive = _marked(mark)
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = _marked(mark)
    if alive:
        problems.append(f"{len(alive)} processes outlived netwhy: {', '.join(alive)}")
    if not files:
        return problems
    hidden = [p.name for p in (workdir / "out").iterdir() if p.name.startswith(".")]
    if hidden:
        problems.append(f"temporary files beside the output: {', '.join(hidden)}")
    temporary = [p.name for p in (workdir / "tmp").iterdir()]
    if temporary:
        problems.append(f"left in TMPDIR: {', '.join(temporary)}")
    new = {name for name in _namespaces() - namespaces if name.startswith(prefix)}
    if new:
        problems.append(f"network namespaces left: {', '.join(sorted(new))}")
    return problems


def _wait_for_child(mark: str, name: str, process: subprocess.Popen, limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    while process.poll() is None and time.monotonic() < deadline:
        if any(entry.split(" ", 1) [1] == name and int(entry.split()[0]) != process.pid
               for entry in _marked(mark)):
            return
        time.sleep(0.01)


def _marked(mark: str) -> list[str]:
    """Processes whose environment carries the mark: "PID name" each."""
    found = []
    needle = f"NETWHY_TRIAL={mark}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(f"{entry.name} {(entry / 'comm').read_text().strip()}")
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return found


def _namespaces() -> set[str]:
    done = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    return {line.split()[0] for line in done.stdout.splitlines() if line.strip()}


# The moments a signal is sent: early (start-up, tshark starting), middle, late.
DELAYS = {"explain": (0.2, 0.5, 0.9), "why": (0.2, 0.5, 0.9), "annotate": (0.3, 0.6, 0.9),
          "report": (1.0, 2.0, 2.5), "docs": (2.0, 8.0, 20.0), "lab": (1.0, 3.0, 5.0)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="trials per command")
    parser.add_argument("commands", nargs="*", default=list(DELAYS))
    arguments = parser.parse_args()
    failed = 0
    for command in arguments.commands:
        trials = []
        for index in range(arguments.repeat):
            delays = DELAYS[command]
            # A killed `lab run` leaves its namespaces (nothing can remove them): not tried.
            signals = SIGNALS[:2] if command == "lab" else SIGNALS
            signum = signals[index % len(signals)]
            trial = run_trial(command, signum, delays[index % len(delays)],
                              group=(index // 2) % 2 == 1)
            trials.append(trial)
            if not trial.clean:
                print(f"  {trial.describe()}", flush=True)
        clean = sum(t.clean for t in trials)
        failed += len(trials) - clean
        slowest = max(t.stop_s for t in trials)
        print(f"{command}: {clean} of {len(trials)} trials clean (slowest stop {slowest:.1f} s)",
              flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
