"""Parallel dissection changes nothing: a capture cut into chunks and dissected in two lanes
gives the very diagnoses, evidence frames, conversations and packet count of one pass."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import CAPTURES, PUBLIC
from netwhy.dissect.capture import Splitting
from netwhy.expert.analyze import analyze

from netwhy.render.json_report import as_dict

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
from make_capture import write_capture

OWN = sorted(CAPTURES.glob("*.pcap*"))
PUBLIC_CAPTURES = sorted(p for p in PUBLIC.rglob("*") if p.suffix in (".pcap", ".pcapng", ".cap"))


def outcome(path: Path, splitting: Splitting | None) -> dict[str, Any]:
    result = as_dict(analyze(path, splitting))
    del result["timings"]
    return result


def chunked(packets: int) -> Splitting:
    """Cut into about five chunks however small the capture: boundaries fall everywhere."""
    return Splitting(chunk_packets=max(2, packets // 5), min_packets=0)


@pytest.mark.parametrize("path", OWN + PUBLIC_CAPTURES, ids=lambda p: p.name)
def test_chunked_dissection_gives_the_same_report(path: Path) -> None:
    one_pass = outcome(path, None)
    assert outcome(path, chunked(one_pass["packets"])) == one_pass


def test_a_busy_capture_cut_at_real_chunk_sizes(tmp_path: Path) -> None:
    """30,000 packets of the benchmark's mix in three chunks of 10,000: UDP streams, TCP
    conversations and unanswered ARP cross the boundaries."""
    path = tmp_path / "mixed.pcap"
    write_capture(path, packets=30_000, seed=3)
    one_pass = outcome(path, None)
    assert one_pass["diagnoses"], "the mix holds failures to find"
    assert outcome(path, Splitting(chunk_packets=10_000, min_packets=0)) == one_pass


def test_a_truncated_capture_chunked_reports_its_cut(tmp_path: Path) -> None:
    whole = (CAPTURES / "mixed-failures.pcapng").read_bytes()
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(whole[: len(whole) - 37])
    one_pass = outcome(cut, None)
    assert one_pass["truncated"]
    assert outcome(cut, chunked(one_pass["packets"])) == one_pass
