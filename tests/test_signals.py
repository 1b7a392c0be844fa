"""Ctrl-C and SIGTERM at several moments, to netwhy's PID and to its process group: netwhy says
so in one line, exits 128 + the signal, and leaves no temporary file, child process or network
namespace behind. tests/signal_trials.py repeats these trials many times (a stress run)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from signal_trials import EXPECTED, run_trial

TERM, INT = signal.SIGTERM, signal.SIGINT


# Each signal lands in a phase that has something to clean up, timed from the child that
# starts it: tshark dissecting, Sphinx's forked workers building.
@pytest.mark.parametrize(("command", "signum", "after_child", "delay_s", "group"), [
    ("explain", TERM, "tshark", 0.05, False),
    ("explain", INT, "tshark", 0.05, True),
    ("why", INT, "tshark", 0.05, False),
    ("annotate", TERM, "tshark", 0.05, False),
    ("annotate", INT, "tshark", 0.05, True),
    ("report", TERM, "netwhy", 0.1, True),
    ("report", INT, "netwhy", 0.3, False),
    ("docs", INT, "netwhy", 0.5, False),
    ("docs", TERM, "netwhy", 0.1, True),
])
def test_a_signal_mid_run_leaves_nothing_behind(command: str, signum: int, after_child: str,
                                                 delay_s: float, group: bool) -> None:
    trial = run_trial(command, signum, delay_s, group, after_child)
    assert trial.clean, trial.describe() + "\n" + trial.stderr
    # The signal came while it worked: it was answered, not outrun.
    assert trial.status in (EXPECTED[signum], -signum), trial.describe()
    if trial.status == EXPECTED[signum]:
        said = "interrupted" if signum == INT else "stopped by SIGTERM"
        assert trial.stderr.strip().splitlines()[-1] == f"netwhy: {said}"


@pytest.mark.parametrize(("command", "after_child"), [("explain", "tshark"), ("report", "netwhy")])
def test_children_end_with_a_killed_netwhy(command: str, after_child: str) -> None:
    trial = run_trial(command, signal.SIGKILL, 0.05, group=False, after_child=after_child)
    assert trial.clean, trial.describe()
    assert trial.status == -signal.SIGKILL


@pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root")
@pytest.mark.parametrize("group", [False, True])
def test_lab_run_stopped_removes_its_namespaces(group: bool) -> None:
    trial = run_trial("lab", TERM, 2.0, group)
    assert trial.clean, trial.describe() + "\n" + trial.stderr
    assert trial.status in (EXPECTED[TERM], -TERM), trial.describe()


@pytest.mark.parametrize(("signum", "status", "line"), [
    (INT, 130, "netwhy: interrupted"),
    (TERM, 143, "netwhy: stopped by SIGTERM"),
])
def test_a_signal_inside_an_at_fork_callback_still_stops_netwhy(signum: int, status: int,
                                                                 line: str) -> None:
    # Sphinx's workers fork; a signal handled in logging's at-fork callback raised where Python
    # prints "Exception ignored" and carries on. The second callback is where it lands here.
    program = f"""
import os, signal, sys, time
from netwhy import lifetime
lifetime.start()
os.register_at_fork(after_in_parent=lambda: os.kill(os.getpid(), {int(signum)}))
def python_callback(): pass
os.register_at_fork(after_in_parent=python_callback)
try:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    time.sleep(10)  # where the interrupt lands, a moment later
    print("ran on")
except KeyboardInterrupt as interrupt:
    sys.exit(lifetime.interrupted(interrupt))
"""
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=30)
    assert (done.returncode, done.stderr.strip(), done.stdout) == (status, line, "")
