"""Bad input gets one clear line on stderr and its own exit status; the input is never touched."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
from conftest import CAPTURES, run_netwhy
from scapy.all import ICMP, IP, UDP, Ether, Raw, wrpcap

from netwhy.errors import ExitCode


@pytest.fixture
def valid_pcap(tmp_path: Path) -> Path:
    """A request to a closed UDP port and the port unreachable it drew, then filler."""
    client, server = "02:00:00:00:00:01", "02:00:00:00:00:02"
    out, back = Ether(src=client, dst=server), Ether(src=server, dst=client)
    request = out / IP(src="192.0.2.1", dst="192.0.2.2", id=7) / UDP(sport=40000, dport=9)
    request = request / Raw(b"x" * 20)
    error = back / IP(src="192.0.2.2", dst="192.0.2.1") / ICMP(type=3, code=3)
    error = error / bytes(request[IP])[:28]
    filler = [out / IP(src="192.0.2.1", dst="192.0.2.3") / UDP(sport=1, dport=2) / (b"y" * 200)]
    filler *= 5
    path = tmp_path / "valid.pcap"
    wrpcap(str(path), [request, error, *filler])
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_refused(result, code: ExitCode, words: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("netwhy: ") and words in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_file(tmp_path: Path) -> None:
    result = run_netwhy("explain", str(tmp_path / "nope.pcap"))
    assert_refused(result, ExitCode.UNREADABLE, "no such file")


def test_directory(tmp_path: Path) -> None:
    assert_refused(run_netwhy("explain", str(tmp_path)), ExitCode.UNREADABLE, "is a directory")


def test_unreadable_file(tmp_path: Path, valid_pcap: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    valid_pcap.chmod(0)
    assert_refused(run_netwhy("explain", str(valid_pcap)), ExitCode.UNREADABLE, "cannot read")


def test_not_a_capture(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("these are not packets\n")
    assert_refused(run_netwhy("explain", str(text)), ExitCode.NOT_A_CAPTURE, "not a pcap or pcapng")


def test_zero_byte_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    assert_refused(run_netwhy("explain", str(empty)), ExitCode.NOT_A_CAPTURE, "0 bytes")


def test_capture_without_packets(tmp_path: Path, valid_pcap: Path) -> None:
    header_only = tmp_path / "header.pcap"
    header_only.write_bytes(valid_pcap.read_bytes()[:24])
    assert_refused(run_netwhy("explain", str(header_only)), ExitCode.EMPTY, "no packets")


def test_truncated_capture_is_analysed_up_to_the_cut(tmp_path: Path, valid_pcap: Path) -> None:
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(valid_pcap.read_bytes()[:-100])  # the last record loses its tail
    before = digest(cut)
    result = run_netwhy("explain", str(cut))
    assert result.returncode == ExitCode.TRUNCATED
    assert "cut short" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "WARNING: capture damaged" in result.stdout
    assert "icmp.unreachable.port" in result.stdout  # the packets before the cut still count
    assert digest(cut) == before


def test_input_is_never_modified(valid_pcap: Path) -> None:
    before, mode = digest(valid_pcap), stat.S_IMODE(valid_pcap.stat().st_mode)
    assert run_netwhy("explain", str(valid_pcap), "--json").returncode == 0
    assert digest(valid_pcap) == before
    assert stat.S_IMODE(valid_pcap.stat().st_mode) == mode


def fake_tshark(tmp_path: Path, script: str) -> dict[str, str]:
    """A PATH on which `tshark` is the given shell script (python stays reachable)."""
    directory = tmp_path / "bin"
    directory.mkdir()
    tshark = directory / "tshark"
    tshark.write_text("#!/bin/sh\n" + script)
    tshark.chmod(0o755)
    return {"PATH": str(directory)}


def test_tshark_missing(tmp_path: Path, valid_pcap: Path) -> None:
    result = run_netwhy("explain", str(valid_pcap), env={"PATH": str(tmp_path)})
    assert_refused(result, ExitCode.TSHARK_MISSING, "tshark not found")


def test_tshark_too_old(tmp_path: Path, valid_pcap: Path) -> None:
    env = fake_tshark(tmp_path, 'echo "TShark (Wireshark) 2.6.20 (Git v2.6.20)"\n')
    result = run_netwhy("explain", str(valid_pcap), env=env)
    assert_refused(result, ExitCode.TSHARK_MISSING, "too old")


def test_tshark_crashing(tmp_path: Path, valid_pcap: Path) -> None:
    env = fake_tshark(
        tmp_path,
        'case "$1" in -v) echo "TShark (Wireshark) 4.0.17 (Git v4.0.17)"; exit 0;; esac\n'
        'echo "1\tpartial" ; echo "tshark: internal error in dissector" >&2; kill -SEGV $$\n',
    )
    result = run_netwhy("explain", str(valid_pcap), env=env)
    assert_refused(result, ExitCode.TSHARK_FAILED, "tshark failed")
    assert "signal 11" in result.stderr or "internal error" in result.stderr
    assert result.stdout == ""  # no partial report presented as complete


@pytest.mark.parametrize("kept", [8, 12, 20, 30])
def test_pcapng_cut_inside_its_section_header(tmp_path: Path, kept: int) -> None:
    # tshark reads such a file as a "MIME file" of one malformed packet, and says nothing.
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes((CAPTURES / "clean.pcapng").read_bytes()[:kept])
    result = run_netwhy("explain", str(cut))
    assert_refused(result, ExitCode.TRUNCATED, "inside its pcapng section header")
