"""The prefilter changes nothing: a capture whose bulk packets netwhy counts itself, and whose
chosen records tshark reads in several streams, gives the very diagnoses, evidence frames,
conversations and packet count of one plain tshark pass over the whole file."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import CAPTURES, PUBLIC

from netwhy.dissect.capture import STREAM_PACKETS
from netwhy.dissect.tshark import FieldsCapture
from netwhy.errors import TsharkFailed
from netwhy.expert.analyze import analyze
from netwhy.render.json_report import as_dict

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
from make_capture import write_capture

OWN = sorted(CAPTURES.glob("*.pcap*"))
PUBLIC_CAPTURES = sorted(p for p in PUBLIC.rglob("*") if p.suffix in (".pcap", ".pcapng", ".cap"))


def outcome(path: Path, prefilter: bool, stream_packets: int = STREAM_PACKETS,
            worker: bool = False) -> dict[str, Any]:
    result = as_dict(analyze(path, prefilter, stream_packets, worker))
    del result["timings"]
    return result


BLACKHOLE = "tcp.pmtu-blackhole"


def without_segments(result: dict[str, Any], stalled: list[dict]) -> dict[str, Any]:
    """A report as it would be without the TCP segment analysis, which only the prefilter's
    walk does (tshark alone never sees bulk TCP, and says so in a note). `stalled`: the
    subjects of the conversations a black hole was found in, whose frames then include its
    evidence."""
    result["diagnoses"] = [d for d in result["diagnoses"] if d["condition"] != BLACKHOLE]
    result["notes"] = [n for n in result["notes"] if not n.startswith("TCP data not followed")]
    for conversation in result["conversations"]:
        conversation["diagnoses"] = [c for c in conversation["diagnoses"] if c != BLACKHOLE]
        if conversation["outcome"] == "answered-then-stalled":
            conversation["outcome"], conversation["failed"] = "completed", False
        if conversation["subject"] in stalled:
            del conversation["first_frame"], conversation["last_frame"]
    return result


@pytest.mark.parametrize("path", OWN + PUBLIC_CAPTURES, ids=lambda p: p.name)
def test_prefiltered_streams_give_the_same_report(path: Path) -> None:
    one_pass, walked = outcome(path, prefilter=False), outcome(path, prefilter=True)
    # Three records a stream, walked by the worker process: boundaries fall everywhere.
    assert outcome(path, prefilter=True, stream_packets=3, worker=True) == walked
    stalled = [v["subject"] for v in walked["conversations"] if BLACKHOLE in v["diagnoses"]]
    assert without_segments(walked, stalled) == without_segments(one_pass, stalled)


def test_a_busy_capture(tmp_path: Path) -> None:
    """30,000 packets of the benchmark's mix, in streams of 1,000 chosen records: UDP streams
    counted by the prefilter, TCP conversations and unanswered ARP cross the boundaries."""
    path = tmp_path / "mixed.pcap"
    write_capture(path, packets=30_000, seed=3)
    one_pass = without_segments(outcome(path, prefilter=False), [])
    assert one_pass["diagnoses"], "the mix holds failures to find"
    assert outcome(path, prefilter=True, stream_packets=1_000) == one_pass
    assert outcome(path, prefilter=True, stream_packets=1_000, worker=True) == one_pass


def test_one_tshark_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Streams overlap at their seams, not in memory: a stream's tshark starts only once the
    one before it has exited, while netwhy may still be reading the rows that one left."""
    started: list[FieldsCapture] = []
    start = FieldsCapture.start

    def start_alone(capture: FieldsCapture) -> None:
        if capture not in started:
            assert all(before.exited() for before in started)
            started.append(capture)
        start(capture)

    monkeypatch.setattr(FieldsCapture, "start", start_alone)
    path = CAPTURES / "mixed-failures.pcapng"
    for worker in (False, True):
        assert outcome(path, prefilter=True, stream_packets=10, worker=worker) == (
            without_segments(outcome(path, prefilter=False), []))
    assert len(started) > 6


@pytest.mark.parametrize("cut", [37, 1, 500])
def test_a_truncated_capture_reports_its_cut(tmp_path: Path, cut: int) -> None:
    whole = (CAPTURES / "mixed-failures.pcapng").read_bytes()
    damaged = tmp_path / "cut.pcapng"
    damaged.write_bytes(whole[: len(whole) - cut])
    one_pass = outcome(damaged, prefilter=False)
    assert one_pass["truncated"]
    assert outcome(damaged, prefilter=True, stream_packets=5) == one_pass
    assert outcome(damaged, prefilter=True, stream_packets=5, worker=True) == one_pass


def test_a_record_longer_than_tshark_accepts(tmp_path: Path) -> None:
    """A pcap record over 256 KiB in the middle: tshark stops there, and so does netwhy."""
    path = tmp_path / "long.pcap"
    write_capture(path, packets=2_000, seed=5)
    data = bytearray(path.read_bytes())
    offset = 24
    for _ in range(1_000):  # the 1,001st record's header claims a huge length
        offset += 16 + struct.unpack_from("<I", data, offset + 8)[0]
    struct.pack_into("<I", data, offset + 8, 300_000)
    path.write_bytes(data)
    one_pass = outcome(path, prefilter=False)
    assert one_pass["truncated"] and one_pass["packets"] == 1_000
    assert outcome(path, prefilter=True, stream_packets=50, worker=True) == one_pass


def test_a_worker_that_dies_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """The prefilter's worker process fails: one clear error (tshark-failed, exit 8), no hang."""
    real = subprocess.Popen

    def dying(args: list[str], **options: Any) -> subprocess.Popen:
        if "netwhy.dissect.worker" in args:
            args = [sys.executable, "-c", "import sys; sys.exit('worker crashed')"]
        return real(args, **options)

    monkeypatch.setattr(subprocess, "Popen", dying)
    with pytest.raises(TsharkFailed, match=r"prefilter worker stopped early.*worker crashed"):
        analyze(CAPTURES / "mixed-failures.pcapng", worker=True)


def test_times_out_of_order(tmp_path: Path) -> None:
    """UDP datagrams earlier than the first record, and a day late, in the middle of their
    conversations: times and conversation spans come out as one pass computes them."""
    path = tmp_path / "odd.pcap"
    write_capture(path, packets=3_000, seed=7)
    data = bytearray(path.read_bytes())
    offset, index, moved = 24, 0, 0
    while offset < len(data):
        length = struct.unpack_from("<I", data, offset + 8)[0]
        is_udp = data[offset + 16 + 12:offset + 16 + 14] == b"\x08\x00" and data[
            offset + 16 + 23] == 17
        if is_udp and index > 1_500 and index % 7 == 0 and moved < 6:
            if moved % 2:
                struct.pack_into("<II", data, offset, 0, 5)  # 1970: before the first record
            else:
                struct.pack_into("<I", data, offset, struct.unpack_from("<I", data, offset)[0]
                                 + 86_400)
            moved += 1
        offset += 16 + length
        index += 1
    assert moved == 6
    path.write_bytes(data)
    one_pass = without_segments(outcome(path, prefilter=False), [])
    assert outcome(path, prefilter=True, stream_packets=100) == one_pass
    assert outcome(path, prefilter=True, stream_packets=100, worker=True) == one_pass
