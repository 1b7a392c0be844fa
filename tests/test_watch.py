"""`netwhy watch`, for real: a live capture in a network namespace while the kernel on the other
side makes failures happen, the diagnoses arriving within seconds, and a clean exit."""

from __future__ import annotations

import contextlib
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

from netwhy.dissect.facts import ArpMessage, Fact, UdpConversation
from netwhy.dissect.livefilter import Gap
from netwhy.dissect.rows import Rows
from netwhy.dissect.tshark import FieldsCapture, tshark_path_and_version
from netwhy.errors import ExitCode
from netwhy.expert.report import Report
from netwhy.expert.watch import Unjudged, Watch
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
def test_missing_interface_one_clean_line() -> None:
    result = subprocess.run([str(NETWHY), "watch", "-i", "nosuch0", "--duration", "5"],
                            capture_output=True, text=True, timeout=60)
    assert result.stderr == "netwhy: no interface named nosuch0 (No such device exists)\n"


@pytest.mark.netns
@needs_root
def test_interface_down_is_unreadable_input() -> None:
    with Topology() as lab:
        lab.add_namespace("box")
        lab.ip("box", "link", "add", "d0", "type", "veth", "peer", "name", "d1")  # left down
        result = lab.run("box", [str(NETWHY), "watch", "-i", "d0", "--duration", "5"],
                         check=False)
    assert result.returncode == ExitCode.UNREADABLE
    assert result.stderr == ("netwhy: interface d0 is down: bring it up first "
                             "(ip link set d0 up)\n")


def children_in(namespace: str) -> list[str]:
    """The programs running in a namespace, by name."""
    pids = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True,
                          text=True).stdout.split()
    names = []
    for pid in pids:
        with contextlib.suppress(OSError):  # gone meanwhile
            names.append(Path(f"/proc/{pid}/comm").read_text().strip())
    return names


@pytest.mark.netns
@needs_root
def test_killed_watch_leaves_no_capture_running(tmp_path: Path) -> None:
    """SIGKILL unwinds nothing: the kernel's parent-death signal ends both dumpcaps (the
    capture and the --write ring) and tshark."""
    with Topology() as lab:
        lab.add_namespace("box")
        lab.link("box", "k0", "box", "k1")
        watch = subprocess.Popen(
            ["ip", "netns", "exec", lab.prefix + "box", str(NETWHY), "watch", "-i", "k0",
             "--write", str(tmp_path / "kept.pcapng")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while sorted(set(children_in(lab.prefix + "box"))) != ["dumpcap", "netwhy", "tshark"]:
            assert time.monotonic() < deadline, children_in(lab.prefix + "box")
            time.sleep(0.1)
        assert children_in(lab.prefix + "box").count("dumpcap") == 2
        watch.kill()
        watch.wait()
        deadline = time.monotonic() + 2
        while children_in(lab.prefix + "box") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert children_in(lab.prefix + "box") == []


@needs_root
def test_bad_capture_filter_one_line() -> None:
    result = subprocess.run([str(NETWHY), "watch", "-i", "lo", "-f", "hots 192.0.2.1",
                             "--duration", "5"], capture_output=True, text=True, timeout=60)
    assert result.returncode == ExitCode.USAGE
    assert result.stderr.startswith("netwhy: the capture filter does not compile:")
    assert "hots 192.0.2.1" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def capture_facts(name: str) -> tuple[list[Fact], list[UdpConversation]]:
    """A lab capture's facts as a live watch gets them, and its UDP conversation counts (which
    a watch receives at the end)."""
    tshark, version = tshark_path_and_version()
    capture = FieldsCapture(CAPTURES / name, tshark, version)
    rows = Rows()
    try:
        facts = list(rows.stream(None, (line for batch in capture.batches() for line in batch)))
    finally:
        capture.close()
    return facts, list(rows.conversations())


def storm_facts() -> list[Fact]:
    """The facts of a kernel-made ARP storm (the lab's capture), as a live watch gets them."""
    return capture_facts("arp-storm.pcapng")[0]


def test_a_storm_does_not_grow_memory_and_is_reported_once() -> None:
    """An hour of the same ARP storm, replayed into a watch with a small fact limit: history
    stays within the limit, the storm is reported once, and the report says what was forgotten."""
    kb = load_knowledge_base()
    clock = [0.0]
    watch = Watch(kb, clock=lambda: clock[0])
    watch.max_arp_facts = 500
    facts = storm_facts()
    reported = []
    for _ in range(60):
        watch.add(facts)
        clock[0] += 1.0
        reported += [d.condition for d in watch.judge()]
        assert len(watch.arp) <= 500
    assert reported.count("arp.storm") == 1
    assert watch.facts_seen == 60 * len(facts)
    report = watch.report("live capture on test", "4.0", 0, [])
    assert any(d.condition == "arp.storm" for d in report.diagnoses)
    assert any("forgotten" in note for note in report.notes)


def test_a_storm_does_not_push_out_icmp_errors() -> None:
    """ARP is remembered apart: however long a storm, the port unreachable that answered a
    probe before it is still there for the final report, and the probe is not called silent."""
    kb = load_knowledge_base()
    clock = [0.0]
    watch = Watch(kb, clock=lambda: clock[0])
    watch.max_arp_facts = 500
    probe, udp = capture_facts("udp-closed-port.pcapng")
    watch.add(probe)
    storm = storm_facts()
    for _ in range(60):
        watch.add(storm)
        clock[0] += 1.0
        watch.judge()
    conditions = {d.condition for d in watch.report("live capture on test", "4.0", 0,
                                                    udp).diagnoses}
    assert "icmp.unreachable.port" in conditions and "conversation.silent" not in conditions


def test_a_storm_reports_its_rate_on_the_wire() -> None:
    """Past a sender's budget the live filter sheds its ARP, and counts it: the storm's rate is
    the wire's, not what tshark was given, and it is printed once a whole second is counted."""
    kb = load_knowledge_base()
    watch = Watch(kb, clock=lambda: 10.0)
    facts = storm_facts()
    mac = next(f.sender_mac for f in facts if isinstance(f, ArpMessage) and f.opcode == 1)
    watch.wire_rates = {mac: None}  # its first whole second on the wire is being counted
    watch.add(facts)
    assert "arp.storm" not in {d.condition for d in watch.judge()}
    watch.wire_rates = {mac: 119_000}
    storm = next(d for d in watch.judge() if d.condition == "arp.storm")
    assert storm.details["rate"] == 119_000 and "119000" in storm.summary
    assert storm.details["judged_rate"] < 119_000


@pytest.mark.parametrize(("capture", "condition", "protocol"), [
    ("silent-drop.pcapng", "conversation.silent", None),
    ("echo-no-reply-filtered.pcapng", "icmp.echo.no-reply", None),
    ("arp-unanswered.pcapng", "arp.unanswered", "arp"),
])
def test_no_absence_is_concluded_over_missing_frames(capture: str, condition: str,
                                                     protocol: str | None) -> None:
    """An absence (no reply, no answer) is withheld, live and in the report, when frames after
    its first evidence frame may be missing; the report says which and why. A gap before its
    evidence, or of another protocol (shed ARP replies for a UDP probe), changes nothing."""
    kb = load_knowledge_base()
    facts, udp = capture_facts(capture)

    def judged(*gaps: Gap) -> tuple[list[str], Report]:
        watch = Watch(kb, clock=lambda: 60.0)
        for gap in gaps:
            watch.lost(gap)
        watch.add(facts)
        live = [d.condition for d in watch.judge()]
        return live, watch.report("live capture on test", "4.0", len(facts), udp)

    live, report = judged()
    found = next(d for d in report.diagnoses if d.condition == condition)
    assert condition in live
    before = Gap(min(found.evidence) - 1, None, "frames were lost before")
    other = Gap(None, "tcp" if protocol else "arp", "frames of another protocol were shed")
    live, report = judged(before, other)
    assert condition in live and condition in {d.condition for d in report.diagnoses}
    live, report = judged(Gap(max(found.evidence), protocol, "12 ARP replies were shed"))
    assert condition not in live and condition not in {d.condition for d in report.diagnoses}
    assert any(note.startswith(f"not concluded: {condition}") and "12 ARP replies" in note
               for note in report.notes)
    assert report.timings["absences_withheld"] == 1
    # Dropped by the kernel (counted at the end: anywhere), or left unread at the end.
    for unjudged, said in ((Unjudged(kernel=7), "7 by the kernel"),
                           (Unjudged(unread=5), "left unread: 5 frames")):
        watch = Watch(kb, clock=lambda: 60.0)
        watch.add(facts)
        report = watch.report("live capture on test", "4.0", len(facts), udp, unjudged)
        assert condition not in {d.condition for d in report.diagnoses}
        assert any(said in note for note in report.notes)
    assert report.timings["frames_unread"] == 5


def test_old_facts_expire() -> None:
    kb = load_knowledge_base()
    clock = [0.0]
    watch = Watch(kb, clock=lambda: clock[0])
    watch.add(storm_facts())
    assert watch.arp
    clock[0] += float(kb.live["history_s"].value) + 60
    assert watch.judge() == [] and not watch.arp
