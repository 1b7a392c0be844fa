"""Outputs netwhy cannot or must not write: one line on stderr, its own exit status, and
nothing replaced that was not netwhy's to replace."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import CAPTURES, NETWHY, run_netwhy
from test_bad_input import assert_refused

from netwhy.errors import ExitCode

CAPTURE = CAPTURES / "mixed-failures.pcapng"
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")


@as_root
@pytest.mark.parametrize("kind", [stat.S_IFCHR, stat.S_IFBLK])
def test_annotate_never_replaces_a_device(tmp_path: Path, kind: int) -> None:
    device = tmp_path / "device"
    os.mknod(device, kind | 0o666, os.makedev(1, 3))  # the null device's numbers
    result = run_netwhy("annotate", str(CAPTURE), str(device))
    assert_refused(result, ExitCode.OUTPUT_FAILED, "is a device, pipe or socket")
    assert stat.S_IFMT(device.lstat().st_mode) == kind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["device"]  # no temporary left


def test_annotate_never_replaces_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    result = run_netwhy("annotate", str(CAPTURE), str(fifo))
    assert_refused(result, ExitCode.OUTPUT_FAILED, "is a device, pipe or socket")
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


@pytest.mark.parametrize("arguments", [
    ["explain", str(CAPTURE)], ["explain", str(CAPTURE), "--json"],
    ["explain", str(CAPTURE), "--format", "jsonl"], ["explain", str(CAPTURE), "--summary"],
    ["why", str(CAPTURE)], ["report", str(CAPTURE), "{tmp}/site"],
    ["annotate", str(CAPTURE), "{tmp}/annotated.pcapng"],
])
def test_stdout_on_a_full_device(tmp_path: Path, arguments: list[str]) -> None:
    arguments = [a.replace("{tmp}", str(tmp_path)) for a in arguments]
    with open("/dev/full", "w") as full:
        result = subprocess.run([str(NETWHY), *arguments], stdout=full, stderr=subprocess.PIPE,
                                text=True, timeout=120)
    assert_refused(result, ExitCode.OUTPUT_FAILED,
                   "cannot write to standard output: No space left on device")


def test_stdout_closed(tmp_path: Path) -> None:
    result = subprocess.run(f"exec {NETWHY} explain {CAPTURE} >&-", shell=True,
                            capture_output=True, text=True, timeout=120)
    assert_refused(result, ExitCode.OUTPUT_FAILED, "standard output is closed")


def test_stderr_on_a_full_device_keeps_the_exit_status(tmp_path: Path) -> None:
    with open("/dev/full", "w") as full:
        missing = subprocess.run([str(NETWHY), "explain", str(tmp_path / "nothing.pcap")],
                                 stdout=subprocess.PIPE, stderr=full, timeout=120)
        usage = subprocess.run([str(NETWHY), "explain"], stdout=subprocess.PIPE, stderr=full,
                               timeout=120)
    assert missing.returncode == ExitCode.UNREADABLE
    assert usage.returncode == ExitCode.USAGE


def test_usage_errors_are_one_line_with_a_hint(tmp_path: Path) -> None:
    result = run_netwhy("explain", "-x.pcapng")
    assert_refused(result, ExitCode.USAGE, "the following arguments are required: capture")
    assert "put -- before a file name that starts with -" in result.stderr
    assert "usage:" not in result.stderr
    result = run_netwhy("explain", "--", "-x.pcapng")  # the hint works
    assert_refused(result, ExitCode.UNREADABLE, "-x.pcapng: no such file")


def test_annotate_of_a_capture_cut_in_its_header(tmp_path: Path) -> None:
    pcap = tmp_path / "whole.pcap"
    subprocess.run(["editcap", "-F", "pcap", str(CAPTURE), str(pcap)], check=True)
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(pcap.read_bytes()[:20])  # inside the 24-byte file header
    output = tmp_path / "out" / "annotated.pcapng"
    output.parent.mkdir()
    result = run_netwhy("annotate", str(cut), str(output))
    assert_refused(result, ExitCode.TRUNCATED, "cut short")
    assert str(cut) in result.stderr and ".tmp" not in result.stderr
    assert not any(output.parent.iterdir())
