"""The kernel still makes what the committed captures show: fresh lab runs, explained at once."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import explain_json
from netwhy.lab.catalog import SCENARIOS

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("dumpcap"),
                       reason="needs root, network namespaces and dumpcap"),
]


@pytest.mark.parametrize(("name", "condition", "top_cause"), [
    ("snmp-no-agent", "icmp.unreachable.port", "snmp-agent-missing"),
    ("path-mtu-df", "icmp.unreachable.frag-needed", "tunnel-overhead"),
    ("admin-prohibited", "icmp.unreachable.admin-prohibited", "path-filter"),
])
def test_fresh_kernel_capture(tmp_path: Path, name: str, condition: str, top_cause: str) -> None:
    written = SCENARIOS[name].run(tmp_path / f"{name}.pcapng")
    diagnosis = explain_json(written[0])["diagnoses"][0]
    assert (diagnosis["condition"], diagnosis["causes"][0]["id"]) == (condition, top_cause)
    assert len(diagnosis["evidence"]) >= 2  # the attempt and the error that answered it


def test_fresh_clean_capture_is_quiet(tmp_path: Path) -> None:
    written = SCENARIOS["clean"].run(tmp_path / "clean.pcapng")
    found = explain_json(written[0])["diagnoses"]
    assert [d["condition"] for d in found] == ["icmp.echo.ok"]  # chat: the pings were answered
