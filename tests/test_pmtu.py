"""Path-MTU black holes from the TCP segments themselves (tcp.pmtu-blackhole): kernel-made
captures at the sender and at the receiver, the sender that recovers by itself, and the benign
look-alikes (random loss, a zero window, an application closing early) that must stay quiet."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import time

import pytest
from conftest import CAPTURES, explain_json, run_netwhy

from netwhy.dissect.tcp_segments import after

BLACKHOLE = "tcp.pmtu-blackhole"
CLIENT, SERVER = "192.0.2.10", "203.0.113.20"


def top(capture: str) -> dict:
    report = explain_json(CAPTURES / f"{capture}.pcapng")
    assert report["diagnoses"], f"{capture}: nothing found"
    return report["diagnoses"][0]


def assert_subject(diagnosis: dict) -> None:
    # Named by the conversation it breaks (the client's, to the service), sent by the server.
    subject = diagnosis["subject"]
    assert (subject["src"], subject["dst"], subject["dport"]) == (CLIENT, SERVER, 8080)
    assert diagnosis["reporter"] == SERVER and diagnosis["details"]["sender"] == SERVER


def test_seen_from_the_sender() -> None:
    diagnosis = top("pmtu-blackhole")
    assert (diagnosis["condition"], diagnosis["severity"]) == (BLACKHOLE, "error")
    assert_subject(diagnosis)
    # The acknowledged header, the first send of the stalled bytes (a TSO super-segment), and
    # the four re-sends and the one after the client's FIN.
    assert diagnosis["evidence"] == [8, 10, 14, 15, 16, 17, 20]
    details = diagnosis["details"]
    assert (details["stalled"], details["acked"], details["resends"]) == ("1500 bytes", 352, 5)
    assert details["path_mtu"] == "between 352 and 1499 bytes"
    assert diagnosis["causes"][0]["id"] == "icmp-filtered"


def test_over_ipv6_with_its_packet_too_big_filtered() -> None:
    # An upload seen at its sender: the 300-byte first segment (6) is acknowledged, the first
    # full-size one (8) is re-sent five times (20-23, 26), and no ICMPv6 says why.
    diagnosis = top("pmtu-blackhole-ipv6")
    assert (diagnosis["condition"], diagnosis["severity"]) == (BLACKHOLE, "error")
    subject = diagnosis["subject"]
    assert (subject["src"], subject["dst"], subject["dport"]) == (
        "2001:db8:1::10", "2001:db8:2::20", 8080)
    assert diagnosis["evidence"] == [6, 8, 20, 21, 22, 23, 26]
    details = diagnosis["details"]
    assert (details["stalled"], details["acked"], details["resends"]) == ("1500 bytes", 372, 5)
    assert diagnosis["causes"][0]["id"] == "icmp-filtered"


def test_seen_from_the_receiver_ranks_lower_and_says_why() -> None:
    diagnosis = top("pmtu-blackhole.client-side")
    assert (diagnosis["condition"], diagnosis["severity"]) == (BLACKHOLE, "warning")
    assert_subject(diagnosis)
    assert diagnosis["evidence"] == [8, 11]  # the header, and the ACK whose seq ran ahead
    assert diagnosis["details"]["missing_bytes"] == 17376
    assert "receiver-side-only" in {term["name"] for term in diagnosis["terms"]}
    assert diagnosis["score"] < top("pmtu-blackhole")["score"]


def test_a_sender_that_recovers_is_a_warning() -> None:
    diagnosis = top("pmtu-blackhole-recovered")
    assert (diagnosis["condition"], diagnosis["severity"]) == (BLACKHOLE, "warning")
    assert "sender-recovered" in {term["name"] for term in diagnosis["terms"]}
    assert diagnosis["details"]["recovered"] is True
    assert diagnosis["details"]["path_mtu"] == "between 1076 and 1499 bytes"
    # At the client, the bytes came in the end: nothing is missing.
    assert explain_json(CAPTURES / "pmtu-blackhole-recovered.client-side.pcapng")["diagnoses"] == []


@pytest.mark.parametrize("capture", [
    f"{name}{side}" for name in ("tcp-random-loss", "tcp-zero-window", "tcp-app-closes")
    for side in ("", ".client-side")
])
def test_benign_look_alikes_stay_quiet(capture: str) -> None:
    report = explain_json(CAPTURES / f"{capture}.pcapng")
    assert [d["condition"] for d in report["diagnoses"]
            if d["severity"] in ("error", "warning")] == []


def test_why_says_the_connection_stalled() -> None:
    result = run_netwhy("why", str(CAPTURES / "pmtu-blackhole.pcapng"), f"{SERVER}:8080",
                        "--json")
    conversation, = json.loads(result.stdout)["conversations"]
    assert conversation["outcome"] == "answered-then-stalled" and conversation["failed"]
    assert conversation["diagnoses"][0]["condition"] == BLACKHOLE
    recovered = run_netwhy("why", str(CAPTURES / "pmtu-blackhole-recovered.pcapng"),
                           f"{SERVER}:8080", "--json")
    conversation, = json.loads(recovered.stdout)["conversations"]
    assert conversation["outcome"] == "completed"


def test_a_capture_tshark_reads_alone_says_its_tcp_data_was_not_followed(tmp_path) -> None:
    compressed = tmp_path / "blackhole.pcapng.gz"
    compressed.write_bytes(gzip.compress((CAPTURES / "pmtu-blackhole.pcapng").read_bytes()))
    report = explain_json(compressed)
    assert BLACKHOLE not in {d["condition"] for d in report["diagnoses"]}
    assert any(note.startswith("TCP data not followed") for note in report["notes"])


def test_sequence_numbers_wrap() -> None:
    assert after(5, (1 << 32) - 5)  # 10 bytes on, across the wrap
    assert not after((1 << 32) - 5, 5)
    assert not after(7, 7)


@pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")
def test_watch_finds_it_live_with_write(tmp_path) -> None:
    """`watch --write` lets bulk TCP reach netwhy's live filter, which follows the segments as
    the prefilter does: the final report names the black hole, with the ring's frame numbers."""
    from conftest import NETWHY

    from netwhy.lab import pmtu_scenarios as lab
    from netwhy.lab.netns import Topology
    from netwhy.lab.scenarios import traffic

    ring = tmp_path / "kept.pcapng"
    with Topology() as t:
        lab.narrow(t, lab.DROP_FRAG_NEEDED)
        watch = subprocess.Popen(
            ["ip", "netns", "exec", t.prefix + "server", str(NETWHY), "watch", "-i", "eth0",
             "--duration", "12", "--json", "--write", str(ring)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(3)  # dumpcap and tshark starting
        t.run("client", traffic("bulk-client", SERVER, str(lab.PORT), "--wait", "5"))
        out, err = watch.communicate(timeout=60)
    assert watch.returncode == 0, err
    found = [d for d in json.loads(out)["diagnoses"] if d["condition"] == BLACKHOLE]
    assert len(found) == 1 and found[0]["severity"] == "error", out
    assert_subject(found[0])
    kept = sorted(tmp_path.glob("kept_*.pcapng"))
    stalled = found[0]["evidence"][-1]
    shown = subprocess.run(
        ["tshark", "-r", str(kept[0]), "-Y", f"frame.number == {stalled}", "-T", "fields",
         "-e", "tcp.analysis.retransmission", "-e", "tcp.srcport"],
        capture_output=True, text=True, check=True).stdout.split()
    assert shown[-1] == "8080"  # a re-send of the server's stalled segment
