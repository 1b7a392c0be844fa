"""`netwhy watch`, for real: a live capture in a network namespace while the kernel on the other
side makes failures happen, the diagnoses arriving within seconds, and a clean exit."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import CAPTURES, NETWHY

from netwhy.dissect.facts import Fact
from netwhy.dissect.rows import Rows
from netwhy.dissect.tshark import FieldsCapture, tshark_path_and_version
from netwhy.errors import ExitCode
from netwhy.expert.watch import Watch
from netwhy.kb import load_knowledge_base
from netwhy.lab.netns import Topology

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("dumpcap"),
    reason="needs root, network namespaces and dumpcap",
)
DURATION_S = 14
SEND_UDP = ("import socket, sys; "
            "socket.socket(2, 2).sendto(b'hello', (sys.argv[1], int(sys.argv[2])))")


class Lines(threading.Thread):
    """Reads a process's stdout, noting when each line arrived."""

    def __init__(self, process: subprocess.Popen[str]):
        super().__init__(daemon=True)
        self.process, self.lines = process, []

    def run(self) -> None:
        for line in self.process.stdout:
            self.lines.append((time.monotonic(), line))


def first_event(lines: list[tuple[float, str]], condition: str, dst: str) -> tuple[float, Any]:
    for arrived, line in lines:
        event = json.loads(line)
        if event["event"] == "diagnosis" and event["condition"] == condition \
                and event["subject"]["dst"] == dst:
            return arrived, event
    events = [json.loads(line)["event"] for _, line in lines]
    raise AssertionError(f"no {condition} about {dst} in {events}")


@pytest.mark.netns
@needs_root
def test_failures_are_explained_as_they_happen(tmp_path: Path) -> None:
    ring = tmp_path / "kept.pcapng"
    with Topology() as lab:
        lab.add_namespace("client")
        lab.add_namespace("router")
        lab.link("client", "c0", "router", "r0")
        lab.address("client", "c0", "10.9.0.2/24")
        lab.address("router", "r0", "10.9.0.1/24")
        lab.route("client", "default", "10.9.0.1")
        lab.enable_forwarding("router")  # and no route onward: networks beyond are unreachable
        watch = subprocess.Popen(
            ["ip", "netns", "exec", lab.prefix + "client", str(NETWHY), "watch", "-i", "c0",
             "--duration", str(DURATION_S), "--format", "jsonl", "--write", str(ring)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        lines = Lines(watch)
        lines.start()
        time.sleep(3)  # dumpcap and tshark starting
        sent = {}
        sent["port"] = time.monotonic()
        lab.run("client", [sys.executable, "-c", SEND_UDP, "10.9.0.1", "9999"])
        sent["net"] = time.monotonic()
        lab.run("client", [sys.executable, "-c", SEND_UDP, "203.0.113.7", "53"])
        sent["arp"] = time.monotonic()
        lab.run("client", ["ping", "-c", "1", "-W", "4", "10.9.0.77"], check=False)
        assert watch.wait(DURATION_S + 30) == ExitCode.OK, watch.stderr.read()
        lines.join(10)
    arrived, port = first_event(lines.lines, "icmp.unreachable.port", "10.9.0.1")
    assert arrived - sent["port"] < 4 and port["subject"]["dport"] == 9999
    arrived, net = first_event(lines.lines, "icmp.unreachable.net", "203.0.113.7")
    assert arrived - sent["net"] < 4 and net["reporter"] == "10.9.0.1"
    # Certain only once the kernel has asked again and the reply window has passed.
    arrived, _ = first_event(lines.lines, "arp.unanswered", "10.9.0.77")
    assert arrived - sent["arp"] < 8
    final = json.loads(lines.lines[-1][1])
    assert final["event"] == "report"
    reported = {(d["condition"], d["subject"]["dst"]) for d in final["diagnoses"]}
    assert {("icmp.unreachable.port", "10.9.0.1"), ("icmp.unreachable.net", "203.0.113.7"),
            ("arp.unanswered", "10.9.0.77")} <= reported
    # Each diagnosis was printed once, however often it was judged.
    events = [json.loads(x) for _, x in lines.lines[:-1]]
    keys = [(e["condition"], e["subject"]["dst"]) for e in events]
    assert len(keys) == len(set(keys))
    # The ring buffer kept the traffic: the live evidence frames are the same frames there.
    kept = sorted(tmp_path.glob("kept_*.pcapng"))
    assert kept
    tshark = tshark_path_and_version()[0]
    shown = subprocess.run(
        [tshark, "-r", str(kept[0]), "-Y", f"frame.number == {port['evidence'][-1]}",
         "-T", "fields", "-e", "icmp.type", "-e", "icmp.code"],
        capture_output=True, text=True, check=True).stdout.split()
    assert shown == ["3", "3"]


@needs_root
def test_without_permission_one_line_and_status_9() -> None:
    # Root without the capabilities to capture: what an ordinary user without dumpcap's
    # capabilities or the wireshark group meets.
    result = subprocess.run(
        ["setpriv", "--bounding-set=-net_raw,-net_admin", "--inh-caps=-net_raw,-net_admin",
         str(NETWHY), "watch", "-i", "lo", "--duration", "5"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == ExitCode.NO_PERMISSION
    assert result.stderr.startswith("netwhy: no permission to capture on lo")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


@needs_root
def test_missing_interface_one_line() -> None:
    result = subprocess.run([str(NETWHY), "watch", "-i", "nosuch0", "--duration", "5"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == ExitCode.UNREADABLE
    assert result.stderr.startswith("netwhy: no interface named nosuch0")
    assert len(result.stderr.strip().splitlines()) == 1


@needs_root
def test_bad_capture_filter_one_line() -> None:
    result = subprocess.run([str(NETWHY), "watch", "-i", "lo", "-f", "hots 192.0.2.1",
                             "--duration", "5"], capture_output=True, text=True, timeout=60)
    assert result.returncode == ExitCode.USAGE
    assert result.stderr.startswith("netwhy: the capture filter does not compile:")
    assert "hots 192.0.2.1" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def storm_facts() -> list[Fact]:
    """The facts of a kernel-made ARP storm (the lab's capture), as a live watch gets them."""
    tshark, version = tshark_path_and_version()
    capture = FieldsCapture(CAPTURES / "arp-storm.pcapng", tshark, version)
    try:
        return list(Rows().stream(None, (line for batch in capture.batches() for line in batch)))
    finally:
        capture.close()


def test_a_storm_does_not_grow_memory_and_is_reported_once() -> None:
    """An hour of the same ARP storm, replayed into a watch with a small fact limit: history
    stays within the limit, the storm is reported once, and the report says what was forgotten."""
    kb = load_knowledge_base()
    clock = [0.0]
    watch = Watch(kb, clock=lambda: clock[0])
    watch.max_facts = 500
    facts = storm_facts()
    reported = []
    for _ in range(60):
        watch.add(facts)
        clock[0] += 1.0
        reported += [d.condition for d in watch.judge()]
        assert len(watch.history) <= 500
    assert reported.count("arp.storm") == 1
    assert watch.facts_seen == 60 * len(facts)
    report = watch.report("live capture on test", "4.0", 0, [])
    assert any(d.condition == "arp.storm" for d in report.diagnoses)
    assert any("forgotten" in note for note in report.notes)


def test_old_facts_expire() -> None:
    kb = load_knowledge_base()
    clock = [0.0]
    watch = Watch(kb, clock=lambda: clock[0])
    watch.add(storm_facts())
    assert watch.history
    clock[0] += float(kb.live["history_s"].value) + 60
    assert watch.judge() == [] and not watch.history

