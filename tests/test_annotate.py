"""`netwhy annotate`, `--format jsonl`, `--filter` and `--summary`."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import struct
import subprocess
import time
from pathlib import Path

import pytest
from conftest import CAPTURES, NETWHY, PUBLIC, explain_json, run_netwhy
from scapy.utils import RawPcapNgReader, RawPcapReader

from netwhy.errors import ExitCode
from netwhy.render.pcapng_comments import add_comments

NARROW = CAPTURES / "narrow-mask.pcapng"  # frames with two diagnoses each
AFS = PUBLIC / "tcpdump" / "afs.pcap"  # classic pcap, microsecond timestamps


def comments(path: Path) -> dict[int, list[str]]:
    out = subprocess.run(
        ["tshark", "-r", str(path), "-T", "fields", "-e", "frame.number", "-e", "frame.comment",
         "-E", "occurrence=a", "-E", "aggregator=\x1f"],
        capture_output=True, text=True, check=True).stdout
    found = {}
    for line in out.splitlines():
        frame, _, text = line.partition("\t")
        if text:
            found[int(frame)] = text.split("\x1f")
    return found


def packets(path: Path) -> list[tuple[int, str]]:
    """Per frame: timestamp in nanoseconds and a hash of the bytes captured."""
    with open(path, "rb") as handle:
        ng = handle.read(4) == b"\x0a\x0d\x0d\x0a"
    found = []
    for data, meta in (RawPcapNgReader if ng else RawPcapReader)(str(path)):
        if ng:
            ticks = (meta.tshigh << 32) | meta.tslow
            nanoseconds = ticks * 1_000_000_000 // meta.tsresol
        else:
            nanoseconds = meta.sec * 1_000_000_000 + meta.usec * 1000
        found.append((nanoseconds, hashlib.sha256(data).hexdigest()))
    return found


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_evidence_frame_carries_its_diagnoses(tmp_path: Path) -> None:
    out = tmp_path / "annotated.pcapng"
    before = digest(NARROW)
    result = run_netwhy("annotate", str(NARROW), str(out))
    assert result.returncode == 0, result.stderr
    expected: dict[int, set[str]] = {}
    for diagnosis in explain_json(NARROW)["diagnoses"]:
        for frame in diagnosis["evidence"]:
            expected.setdefault(frame, set()).add(diagnosis["condition"])
    written = comments(out)
    assert set(written) == set(expected)
    for frame, texts in written.items():
        assert {text.split()[1] for text in texts} == expected[frame]
        assert all(text.startswith("netwhy ") and "likely:" in text for text in texts)
    assert len(written[4]) == 2  # the redirect frame: mask error and redirect, one comment each
    assert digest(NARROW) == before
    assert out.stat().st_mode & 0o777 == 0o666 & ~current_umask()


def test_packets_and_timestamps_survive_byte_for_byte(tmp_path: Path) -> None:
    for capture in (AFS, NARROW):
        out = tmp_path / f"{capture.stem}.pcapng"
        assert run_netwhy("annotate", str(capture), str(out)).returncode == 0
        assert packets(out) == packets(capture)


def tshark_view(path: Path) -> list[str]:
    """Per frame: epoch time to the nanosecond, length, link type and interface."""
    lines = subprocess.run(
        ["tshark", "-r", str(path), "-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len",
         "-e", "frame.cap_len", "-e", "frame.encap_type", "-e", "frame.interface_id"],
        capture_output=True, text=True, check=True).stdout.splitlines()
    # Classic pcap has a single, unnumbered interface; pcapng numbers it 0.
    return [line + "0" if line.endswith("\t") else line for line in lines]


def test_precision_link_type_and_interfaces_survive(tmp_path: Path) -> None:
    nanoseconds = tmp_path / "nano.pcap"
    subprocess.run(["editcap", "-F", "nsecpcap", str(AFS), str(nanoseconds)], check=True)
    merged = tmp_path / "two-interfaces.pcapng"  # Ethernet and Linux cooked, two interfaces
    subprocess.run(["mergecap", "-w", str(merged), str(NARROW),
                    str(PUBLIC / "zeek" / "linuxsll-arp.pcap")], check=True)
    for capture in (nanoseconds, merged):
        out = tmp_path / f"{capture.stem}.annotated.pcapng"
        assert run_netwhy("annotate", str(capture), str(out)).returncode == 0
        assert tshark_view(out) == tshark_view(capture)


def test_capture_comment_and_existing_comments_are_kept(tmp_path: Path) -> None:
    commented = tmp_path / "commented.pcapng"
    subprocess.run(["editcap", "-F", "pcapng", "-a", "4:an engineer's note", "-a", "1:first",
                    "--capture-comment", "from the field", str(NARROW), str(commented)],
                   check=True, capture_output=True)
    out = tmp_path / "out.pcapng"
    assert run_netwhy("annotate", str(commented), str(out)).returncode == 0
    written = comments(out)
    assert written[1] == ["first"]
    assert written[4][0] == "an engineer's note" and len(written[4]) == 3
    info = subprocess.run(["capinfos", str(out)], capture_output=True, text=True).stdout
    assert "from the field" in info and "netwhy 0.1.0: 3 diagnoses" in info


@pytest.mark.parametrize("how", ["same path", "symlink", "hard link"])
def test_refuses_to_overwrite_the_input(tmp_path: Path, how: str) -> None:
    capture = tmp_path / "in.pcapng"
    capture.write_bytes(NARROW.read_bytes())
    before = digest(capture)
    target = capture
    if how == "symlink":
        target = tmp_path / "link.pcapng"
        target.symlink_to(capture)
    elif how == "hard link":
        target = tmp_path / "hard.pcapng"
        os.link(capture, target)
    result = run_netwhy("annotate", str(capture), str(target))
    assert result.returncode == ExitCode.OUTPUT_FAILED
    assert "never overwrites its input" in result.stderr
    assert digest(capture) == before


def test_unwritable_destination_is_one_line(tmp_path: Path) -> None:
    result = run_netwhy("annotate", str(NARROW), str(tmp_path / "missing" / "out.pcapng"))
    assert result.returncode == ExitCode.OUTPUT_FAILED
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def fake_editcap(tmp_path: Path, body: str) -> dict[str, str]:
    """Real tshark, but an editcap beside it that writes part of its output, then misbehaves."""
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "tshark").symlink_to("/usr/bin/tshark")
    editcap = tools / "editcap"
    editcap.write_text('#!/bin/sh\nfor last; do :; done\necho partial > "$last"\n' + body)
    editcap.chmod(0o755)
    return {"PATH": f"{tools}:{os.environ['PATH']}"}


def test_failing_editcap_leaves_nothing_behind(tmp_path: Path) -> None:
    env = fake_editcap(tmp_path, 'echo "editcap: disk full" >&2\nexit 2\n')
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    result = run_netwhy("annotate", str(NARROW), str(out_dir / "a.pcapng"), env=env)
    assert result.returncode == ExitCode.OUTPUT_FAILED and "disk full" in result.stderr
    assert list(out_dir.iterdir()) == []


def test_ctrl_c_leaves_nothing_behind(tmp_path: Path) -> None:
    env = fake_editcap(tmp_path, "sleep 30\nexit 0\n")  # sleep is a child of the script
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    process = subprocess.Popen(
        [str(NETWHY), "annotate", str(NARROW), str(out_dir / "a.pcapng")],
        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    # netwhy creates the temporary file before editcap starts: wait for editcap's own write.
    while not any(f.stat().st_size for f in out_dir.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)  # what the terminal sends on Ctrl-C
    _, stderr = process.communicate(timeout=10)  # not the 30 s of the script's sleep
    assert process.returncode == 130 and b"interrupted" in stderr
    assert list(out_dir.iterdir()) == []


def test_jsonl_is_one_diagnosis_per_line() -> None:
    result = run_netwhy("explain", str(AFS), "--format", "jsonl")
    lines = result.stdout.splitlines()
    assert len(lines) == 4
    records = [json.loads(line) for line in lines]
    assert all(r["capture"] == str(AFS) and "condition" in r for r in records)
    assert [r["score"] for r in records] == sorted((r["score"] for r in records), reverse=True)


def test_filter_selects_every_evidence_frame() -> None:
    text = run_netwhy("explain", str(NARROW), "--filter").stdout.strip()
    assert text == "frame.number in {3,4,5,7,8,9,10,11}"
    selected = subprocess.run(["tshark", "-r", str(NARROW), "-Y", text, "-T", "fields",
                               "-e", "frame.number"], capture_output=True, text=True).stdout
    assert selected.split() == ["3", "4", "5", "7", "8", "9", "10", "11"]


def test_summary_counts_like_tshark_expert() -> None:
    out = run_netwhy("explain", str(AFS), "--summary").stdout
    # One refused krb524 request, and three late AFS replies (warnings), as tshark groups them.
    assert "Errors (1)" in out and "Warnings (3)" in out
    rows = [line.split()[:2] for line in out.splitlines() if "icmp.unreachable.port" in line]
    assert rows == [["1", "2"], ["3", "23"]]  # diagnoses, ICMP messages behind them


def _block(endian: str, block_type: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack(endian + "II", block_type, length) + body + struct.pack(endian + "I", length)


def test_comments_go_into_big_endian_sections_and_beside_the_frames_own(tmp_path: Path) -> None:
    """A big-endian section (a capture made on such a machine), a frame with a comment of its
    own: tshark reads back both comments in order, and the packet bytes unchanged."""
    frame = bytes(range(60))
    own = b"from the field"
    options = struct.pack(">HH", 1, len(own)) + own + b"\0" * (-len(own) % 4) + b"\0" * 4
    blocks = [
        _block(">", 0x0A0D0D0A, struct.pack(">IHHq", 0x1A2B3C4D, 1, 0, -1)),
        _block(">", 1, struct.pack(">HHI", 1, 0, 65535)),
        _block(">", 6, struct.pack(">IIIII", 0, 1, 2, len(frame), len(frame)) + frame + options),
        _block(">", 6, struct.pack(">IIIII", 0, 1, 3, len(frame), len(frame)) + frame),
    ]
    source, out = tmp_path / "big.pcapng", tmp_path / "out.pcapng"
    source.write_bytes(b"".join(blocks))
    with open(source, "rb") as reading, open(out, "wb") as writing:
        written = add_comments(reading, writing, {1: ["netwhy a"], 2: ["netwhy b", "netwhy c"]},
                               "netwhy capture")
    assert (written.comments, written.unplaced) == (3, 0)
    assert comments(out) == {1: ["from the field", "netwhy a"], 2: ["netwhy b", "netwhy c"]}
    assert [data for data, _ in RawPcapNgReader(str(out))] == [frame, frame]
    info = subprocess.run(["capinfos", str(out)], capture_output=True, text=True).stdout
    assert "netwhy capture" in info
