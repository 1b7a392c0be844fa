"""The lab, for real: every scenario built in network namespaces, captured, explained, and
checked (`netwhy lab verify`), plus its refusals."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from conftest import NETWHY, run_netwhy

from netwhy.cli import main
from netwhy.errors import ExitCode

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("dumpcap"),
    reason="needs root, network namespaces and dumpcap",
)


@pytest.mark.netns
@needs_root
def test_every_scenario_gives_its_diagnosis() -> None:
    result = subprocess.run([str(NETWHY), "lab", "verify"], capture_output=True, text=True,
                            timeout=900)
    rows = [line for line in result.stdout.splitlines()[1:-1] if line.strip()]
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(rows) >= 44 and all(row.endswith(" pass") for row in rows), result.stdout
    clean = next(row for row in rows if row.startswith("clean "))
    assert "false alarms: 0" in clean


@pytest.mark.netns
@needs_root
def test_no_namespace_is_left_behind() -> None:
    before = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert run_netwhy("lab", "verify", "tcp-refused").returncode == 0
    after = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert after == before


def test_without_root_one_clear_line(monkeypatch, capsys) -> None:
    # Simulated fault: the suite runs as root, and an unprivileged user could not run this
    # checkout's interpreter at all.
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert main(["lab", "run", "clean", "-o", "/tmp/never-written.pcapng"]) == 9
    assert capsys.readouterr().err == (
        "netwhy: the lab needs root: it builds network namespaces and captures in them\n")


def test_unknown_scenario() -> None:
    result = run_netwhy("lab", "run", "no-such-scenario")
    assert result.returncode == ExitCode.USAGE and "netwhy lab list" in result.stderr


def test_list_names_every_scenario_and_its_conditions() -> None:
    out = run_netwhy("lab", "list").stdout
    assert "host-down-combined" in out and "icmp.unreachable.host" in out
    assert "mixed-failures" in out and "conversation.silent" in out
