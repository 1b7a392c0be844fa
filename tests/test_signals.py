"""Ctrl-C and SIGTERM at several moments, to netwhy's PID and to its process group: netwhy says
so in one line, exits 128 + the signal, and leaves no temporary file, child process or network
namespace behind. tests/signal_trials.py repeats these trials many times (a stress run)."""

from __future__ import annotations

import os
import signal

import pytest
from signal_trials import EXPECTED, run_trial

TERM, INT = signal.SIGTERM, signal.SIGINT


@pytest.mark.parametrize(("command", "signum", "delay_s", "group"), [
    ("explain", TERM, 0.5, False),
    ("explain", INT, 0.5, True),
    ("why", INT, 0.5, False),
    ("annotate", TERM, 0.5, False),
    ("annotate", INT, 0.5, True),
    ("report", TERM, 1.5, True),
    ("report", INT, 2.0, False),
    ("docs", INT, 4.0, False),
    ("docs", TERM, 4.0, True),
])
def test_a_signal_mid_run_leaves_nothing_behind(command: str, signum: int, delay_s: float,
                                                 group: bool) -> None:
    trial = run_trial(command, signum, delay_s, group)
    assert trial.clean, trial.describe() + "\n" + trial.stderr
    # The signal came while it worked: it was answered, not outrun.
    assert trial.status in (EXPECTED[signum], -signum), trial.describe()
    if trial.status == EXPECTED[signum]:
        said = "interrupted" if signum == INT else "stopped by SIGTERM"
        assert trial.stderr.strip().splitlines()[-1] == f"netwhy: {said}"


@pytest.mark.parametrize(("command", "delay_s"), [("explain", 0.5), ("report", 1.5)])
def test_children_end_with_a_killed_netwhy(command: str, delay_s: float) -> None:
    trial = run_trial(command, signal.SIGKILL, delay_s, group=False)
    assert trial.clean, trial.describe()
    assert trial.status == -signal.SIGKILL


@pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root")
@pytest.mark.parametrize("group", [False, True])
def test_lab_run_stopped_removes_its_namespaces(group: bool) -> None:
    trial = run_trial("lab", TERM, 2.0, group)
    assert trial.clean, trial.describe() + "\n" + trial.stderr
    assert trial.status in (EXPECTED[TERM], -TERM), trial.describe()
