"""What netwhy did not look at: packets cut short by the snap length, other protocols. The
report says how many packets, what share and why, in one note per reason, and never says
"nothing to report" about traffic it did not read."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from conftest import CAPTURES, explain_json, run_netwhy
from test_prefilter import outcome

from netwhy.dissect.facts import Unanalysed
from netwhy.dissect.fields import NOT_ANALYSED
from netwhy.dissect.rows import Rows
from netwhy.expert.analyze import analyze, unanalysed
from netwhy.kb import load_knowledge_base
from netwhy.render import why

MIXED = CAPTURES / "mixed-failures.pcapng"  # 35 packets of IPv4 and ARP
UNREAD_NOTE = ("not analysed: 22 of 22 packets (100%) were cut by the snap length before the "
               "headers netwhy reads")


def cut_note(count: int, packets: int, share: str) -> str:
    return (f"not analysed: {count} of {packets} packets ({share}) were cut by the snap length "
            "before the headers netwhy reads")


def snapped(capture: Path, snaplen: int, tmp_path: Path) -> Path:
    """The capture with every packet cut to `snaplen` bytes, as a capture with that snap
    length would have recorded it."""
    out = tmp_path / f"{capture.stem}-snap{snaplen}.pcapng"
    subprocess.run(["editcap", "-s", str(snaplen), str(capture), str(out)], check=True,
                   capture_output=True)
    return out


@pytest.fixture(scope="module")
def unread(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """IPv6 failures whose every packet was cut inside its IPv6 header."""
    return snapped(CAPTURES / "ipv6-failures.pcapng", 30, tmp_path_factory.mktemp("unread"))


def test_a_capture_netwhy_cannot_read_is_not_called_clean(unread: Path) -> None:
    report = explain_json(unread)
    assert (report["packets"], report["unanalysed"]) == (22, 22)
    assert report["notes"] == [UNREAD_NOTE]
    assert report["diagnoses"] == [] and report["conversations"] == []


def test_the_terminal_says_what_it_could_not_analyse(unread: Path) -> None:
    out = run_netwhy("explain", str(unread)).stdout
    lines = out.splitlines()
    assert lines[0].endswith(": nothing to report about the 0 packets netwhy could analyse; "
                             "22 of 22 packets were not analysed")
    assert lines[1] == f"NOTE: {UNREAD_NOTE}"
    assert "Nothing in this capture explains" not in out
    assert "The packets it did not analyse (see the notes) may hold one" in out


def test_the_summary_carries_the_notes(unread: Path) -> None:
    out = run_netwhy("explain", str(unread), "--summary").stdout
    assert out.splitlines()[1] == f"NOTE: {UNREAD_NOTE}"


def test_why_says_what_it_did_not_look_at(unread: Path) -> None:
    report = analyze(unread)
    out = io.StringIO()
    why.write(report.capture, "", [v for v in report.conversations if v.failed], out,
              notes=report.notes)
    lines = out.getvalue().splitlines()
    assert lines[0].endswith(": 0 conversation(s) in the capture, 0 failed")
    assert lines[1] == f"NOTE: {UNREAD_NOTE}"
    assert lines[3] == ("No conversation matches in what netwhy analysed; the notes say what it "
                        "left out.")


@pytest.mark.parametrize("snaplen", [34, 1])
def test_packets_cut_before_their_headers(tmp_path: Path, snaplen: int) -> None:
    """34 bytes: Ethernet and IPv4 headers, nothing of TCP, UDP or ICMP, ARP cut; 1 byte: not
    even the Ethernet header."""
    cut = snapped(MIXED, snaplen, tmp_path)
    report = explain_json(cut)
    assert (report["packets"], report["unanalysed"]) == (35, 35)
    assert report["notes"] == [cut_note(35, 35, "100%")]
    assert report["diagnoses"] == []
    header = run_netwhy("explain", str(cut)).stdout.splitlines()[0]
    assert header.endswith("nothing to report about the 0 packets netwhy could analyse; "
                           "35 of 35 packets were not analysed")
    one_pass = outcome(cut, prefilter=False)
    assert outcome(cut, prefilter=True, stream_packets=3, worker=True) == one_pass


def test_some_packets_cut_before_their_headers(tmp_path: Path) -> None:
    """42 bytes: ARP, UDP and ICMP echo keep the headers netwhy reads, TCP loses its flags."""
    report = explain_json(snapped(CAPTURES / "clean.pcapng", 42, tmp_path))
    assert report["notes"] == [cut_note(10, 18, "55%")]
    assert [d["condition"] for d in report["diagnoses"]] == ["icmp.echo.ok"]


def test_payloads_cut_after_their_headers_have_no_note(tmp_path: Path) -> None:
    """64 bytes: pings lose their payload, TCP handshakes their options; the same report as
    the whole capture's."""
    whole = outcome(CAPTURES / "clean.pcapng", prefilter=True)
    cut = outcome(snapped(CAPTURES / "clean.pcapng", 64, tmp_path), prefilter=True)
    assert (cut["unanalysed"], cut["notes"]) == (0, [])
    assert {**cut, "capture": whole["capture"]} == whole


# The tap of packets no rule can judge, as tshark prints it after the rows (its filter is
# fields.NOT_ANALYSED): Ethernet frames of STP and LLDP, IPv6 behind a VLAN tag, IPv4 cut
# short, and frames cut inside their Ethernet header.
TAPS = f"""
===================================================================
Protocol Hierarchy Statistics
Filter:

eth                                      frames:40 bytes:4000
  ip                                     frames:40 bytes:4000
===================================================================

===================================================================
Protocol Hierarchy Statistics
Filter: {NOT_ANALYSED}

eth                                      frames:16 bytes:1200
  llc                                    frames:6 bytes:360
    stp                                  frames:6 bytes:360
  lldp                                   frames:2 bytes:240
  vlan                                   frames:3 bytes:300
    ipv6                                 frames:3 bytes:300
      icmpv6                             frames:3 bytes:300
  ip                                     frames:2 bytes:68
    _ws.short                            frames:2 bytes:68
  _ws.short                              frames:1 bytes:13
  data                                   frames:2 bytes:120
_ws.short                                frames:1 bytes:1
===================================================================
""".splitlines()


def test_the_tap_sorts_packets_by_reason() -> None:
    rows = Rows()
    assert list(rows.stream(None, TAPS)) == []
    assert rows.packets == 40  # from the whole capture's tap only
    assert rows.unanalysed == Unanalysed(
        cut=7, other=(("stp", 6), ("eth", 2), ("lldp", 2)))


OTHER_MIN_SHARE = load_knowledge_base().coverage["other_min_share"].value


def notes(packets: int, found: Unanalysed) -> list[str]:
    return [note for _, note in unanalysed(packets, found, OTHER_MIN_SHARE)]


def test_other_protocols_from_their_share_on() -> None:
    """Cut packets always have a note; other protocols from 5% of the packets on."""
    few = Unanalysed(cut=1, other=(("stp", 4),))
    assert notes(100, few) == [cut_note(1, 100, "1%")]
    many = Unanalysed(other=(("stp", 30), ("lldp", 10), ("cdp", 5), ("eth", 1)))
    assert notes(100, many) == ["not analysed: 46 of 100 packets (46%) are protocols netwhy "
                                "does not read: stp 30, lldp 10, cdp 5, ..."]
    assert notes(100, Unanalysed(other=(("stp", 5),))) == [
        "not analysed: 5 of 100 packets (5%) are protocols netwhy does not read: stp 5"]


def test_shares_never_round_to_all_or_nothing() -> None:
    assert notes(1000, Unanalysed(cut=999)) == [cut_note(999, 1000, "99%")]
    assert notes(1000, Unanalysed(cut=2)) == [cut_note(2, 1000, "<1%")]
    assert notes(1000, Unanalysed()) == []
