"""`netwhy watch` under an ARP flood: the live filter between dumpcap and tshark sheds bulk ARP
and keeps ICMP, so what matters is still diagnosed as it happens, what was not judged is said,
and --duration is kept. First the filter on saved captures, then a real flood in namespaces."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CAPTURES, NETWHY
from test_watch import Lines

from netwhy.dissect.facts import ArpMessage, Fact, UdpConversation
from netwhy.dissect.livefilter import Budgets, LiveFilter
from netwhy.dissect.rows import Rows
from netwhy.dissect.tshark import FieldsCapture, tshark_path_and_version
from netwhy.errors import ExitCode
from netwhy.lab.netns import Topology

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("dumpcap"),
    reason="needs root, network namespaces and dumpcap",
)
GENEROUS = Budgets(per_sender=10_000, bulk=10_000, watched=10_000, hosts=4096)
FLOOD_PPS, FLOOD_S, PROBES, DURATION_S = 119_000, 12, 6, 16
FLOODER, FLOODER_MAC = "10.9.0.66", "02:00:00:00:00:66"
# A station asking for 256 addresses as fast as it may: prepared frames, a raw socket, paced
# every 5 ms; it prints how many it sent.
FLOOD = f"""
import socket, struct, sys, time
interface, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
mac = bytes.fromhex("{FLOODER_MAC.replace(':', '')}")
frames = [b"\\xff" * 6 + mac + b"\\x08\\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac
          + socket.inet_aton("{FLOODER}") + bytes(6) + socket.inet_aton(f"10.9.1.{{i}}")
          + bytes(18) for i in range(256)]
out = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
out.bind((interface, 0))
started = time.monotonic()
sent = 0
while (elapsed := time.monotonic() - started) < seconds:
    for sent in range(sent, int(elapsed * rate)):
        out.send(frames[sent & 255])
    time.sleep(0.005)
print(sent)
"""
SEND_UDP = ("import socket, sys; "
            "socket.socket(2, 2).sendto(b'hello', (sys.argv[1], int(sys.argv[2])))")


def facts_of(capture: Path, live: LiveFilter | None = None) -> tuple[list[Fact],
                                                                     list[UdpConversation]]:
    """A capture's facts and UDP conversations: in one plain pass, or through the live filter
    as a watch reads dumpcap's stream."""
    tshark, version = tshark_path_and_version()
    feed = None if live is None else lambda fd: live.run(os.open(capture, os.O_RDONLY), fd)
    reader = FieldsCapture(capture, tshark, version, feed=feed)
    rows = Rows()
    try:
        lines = (line for batch in reader.batches() for line in batch)
        facts = list(rows.stream(live, lines))
    finally:
        reader.close()
    if live is not None:
        for key, forward, backward, earliest_ns, latest_ns in live.counted():
            rows.add_udp(key, forward, backward, earliest_ns, latest_ns)
    return facts, list(rows.conversations())


@pytest.mark.parametrize("name", ["mixed-failures.pcapng", "udp-service-stops.pcapng"])
def test_the_live_filter_within_its_budgets_changes_no_fact(name: str) -> None:
    """What tshark is spared (later UDP datagrams, counted instead) changes nothing: the same
    facts, frame numbers, times and UDP counts as one plain pass."""
    live = LiveFilter(GENEROUS, behind_s=float("inf"))  # a file's times are long past
    assert facts_of(CAPTURES / name, live) == facts_of(CAPTURES / name)
    assert live.shed == 0 and live.frames > live.passed


def test_the_live_filter_sheds_arp_past_its_budgets_and_keeps_frame_numbers() -> None:
    """A storm's ARP past one sender's budget is shed and counted; the ICMP among it, and
    every frame kept, keep the numbers of the capture."""
    plain, _ = facts_of(CAPTURES / "arp-storm.pcapng")
    live = LiveFilter(Budgets(per_sender=5, bulk=8, watched=0, hosts=16), float("inf"))
    kept, _ = facts_of(CAPTURES / "arp-storm.pcapng", live)
    assert set(kept) <= set(plain)
    assert [f for f in kept if not isinstance(f, ArpMessage)] == \
        [f for f in plain if not isinstance(f, ArpMessage)]
    arp = [f for f in kept if isinstance(f, ArpMessage)]
    assert 0 < len(arp) < len(plain) - len(kept) + len(arp)
    assert live.shed == len(plain) - len(kept) and live.frames == 184
    assert max(live.arp_peaks().values()) > 5


@pytest.mark.netns
@needs_root
def test_an_arp_flood_does_not_hide_what_matters(tmp_path: Path) -> None:
    """119,000 ARP requests a second for 12 s, and UDP probes to a closed port meanwhile: every
    port unreachable is printed as it comes, with its subject and evidence (the ring's frames
    too); the storm is one arp.storm at its rate on the wire; nothing is called silent; what
    was shed or dropped is in the notes; --duration is kept."""
    ring = tmp_path / "kept.pcapng"
    with Topology() as lab:
        lab.add_namespace("wire")
        lab.add_namespace("watch")
        lab.link("wire", "w0", "watch", "m0")
        lab.address("wire", "w0", "10.9.0.1/24")
        lab.address("watch", "m0", "10.9.0.2/24")
        started = time.monotonic()
        watch = subprocess.Popen(
            ["ip", "netns", "exec", lab.prefix + "watch", str(NETWHY), "watch", "-i", "m0",
             "--duration", str(DURATION_S), "--format", "jsonl", "--write", str(ring)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = Lines(watch)
        lines.start()
        time.sleep(3)  # dumpcap and tshark starting
        flood = subprocess.Popen(
            ["ip", "netns", "exec", lab.prefix + "wire", sys.executable, "-c", FLOOD, "w0",
             str(FLOOD_PPS), str(FLOOD_S)], stdout=subprocess.PIPE, text=True)
        sent = {}
        for probe in range(PROBES):
            time.sleep(FLOOD_S / PROBES / 2)
            sent[9000 + probe] = time.monotonic()
            lab.run("watch", [sys.executable, "-c", SEND_UDP, "10.9.0.1", str(9000 + probe)])
            time.sleep(FLOOD_S / PROBES / 2)
        flooded = int(flood.communicate(timeout=30)[0])
        assert watch.wait(DURATION_S + 30) == ExitCode.OK, watch.stderr.read()
        ran_s = time.monotonic() - started
        lines.join(10)
        stderr = watch.stderr.read()
    assert flooded > 30_000 * FLOOD_S, "the flood was too slow to mean anything"
    events = [(arrived, json.loads(line)) for arrived, line in lines.lines]
    live = {e["subject"]["dport"]: (arrived, e) for arrived, e in events
            if e["event"] == "diagnosis" and e["condition"] == "icmp.unreachable.port"}
    assert sorted(live) == sorted(sent), stderr
    for port, (arrived, event) in live.items():
        assert arrived - sent[port] < 3
        assert (event["subject"]["src"], event["subject"]["dst"], event["reporter"]) == \
            ("10.9.0.2", "10.9.0.1", "10.9.0.1")
        assert event["evidence"]
    storms = [e for _, e in events if e["event"] == "diagnosis" and e["condition"] == "arp.storm"]
    assert len(storms) == 1 and storms[0]["details"]["rate"] > FLOOD_PPS / 2
    report = events[-1][1]
    assert report["event"] == "report"
    conditions = [d["condition"] for d in report["diagnoses"]]
    assert "conversation.silent" not in conditions and conditions.count("arp.storm") == 1
    assert conditions.count("icmp.unreachable.port") == PROBES
    storm = next(d for d in report["diagnoses"] if d["condition"] == "arp.storm")
    assert storm["subject"]["src"] == FLOODER and storm["details"]["rate"] > FLOOD_PPS / 2
    timings, notes = report["timings"], report["notes"]
    assert timings["frames_shed"] > flooded / 2
    assert any(note.startswith("shed: ") for note in notes)
    assert "netwhy: dropping: ARP past" in stderr
    if timings["frames_dropped"]:
        assert any(note.startswith("dropped before netwhy saw them") for note in notes)
    assert report["packets"] + timings["frames_dropped"] >= flooded
    assert ran_s < DURATION_S + 2.5, f"--duration {DURATION_S} ran {ran_s:.1f} s"
    if not timings["frames_dropped"] and not timings["ring_dropped"]:
        # The ring numbers frames as netwhy does: the evidence is the port unreachable there.
        _, event = live[9000]
        shown = subprocess.run(
            [tshark_path_and_version()[0], "-r", str(sorted(tmp_path.glob("kept_*"))[0]), "-Y",
             f"frame.number == {event['evidence'][-1]}", "-T", "fields", "-e", "icmp.type",
             "-e", "icmp.code", "-e", "udp.dstport"],
            capture_output=True, text=True, check=True).stdout.split()
        assert shown == ["3", "3", "9000"]
