"""Limits: state caps (with a note, never silent), huge and tiny packets, tshark failing.

The multi-million packet storms and floods, with their memory figures, are in the long run
(tests/fuzz/run.py --limits); these are the small, fast versions of the same cases.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import CAPTURES

sys.path.insert(0, str(Path(__file__).parent / "fuzz"))
import synthetic
import verdict

from netwhy.dissect.facts import ArpMessage, IcmpMessage, QuotedDatagram
from netwhy.errors import ExitCode
from netwhy.expert import analyze as analyze_module
from netwhy.expert import arp_observations, observations
from netwhy.expert.observations import observe
from netwhy.render import terminal

TIME_LIMIT = 60.0
CAP = 50


@pytest.fixture
def small_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(observations, "MAX_REPORTED", CAP)
    monkeypatch.setattr(arp_observations, "MAX_KEYS", CAP)
    monkeypatch.setattr(arp_observations, "MAX_WINDOW", CAP)


def dotted(prefix: str, n: int) -> str:
    return f"{prefix}.{n // 256 % 256}.{n % 256}"


def arp_requests(count: int, askers: int, same_time: bool = False):
    """Requests from `askers` stations, each for a new address."""
    for n in range(count):
        asker = n % askers
        mac = f"02:00:00:00:{asker // 256:02x}:{asker % 256:02x}"
        time = 0.0 if same_time else n * 1e-4
        yield ArpMessage(n + 1, time, 1, mac, dotted("10.0", asker), "", dotted("10.9", n))


def port_unreachables(count: int):
    for n in range(count):
        client = dotted("10.1", n)
        quoted = QuotedDatagram(client, "192.0.2.20", 17, 64, True, n, 40000 + n % 1000, n % 60000)
        yield IcmpMessage(n + 1, n * 1e-4, "192.0.2.20", client, 64, 3, 3, quoted=quoted)


def test_arp_storm_state_is_capped(small_caps: None) -> None:
    seen = observe(arp_requests(2_000, askers=500))
    arp = seen.arp
    for table in (arp.queries, arp.claims, arp.askers, arp.own_ips):
        assert len(table) <= CAP
    assert arp.untracked > 0


def test_storm_window_is_capped(small_caps: None) -> None:
    """Every request of a storm at one instant: the window keeps CAP of them, and says so."""
    seen = observe(arp_requests(1_000, askers=1, same_time=True))
    asker = next(iter(seen.arp.askers.values()))
    assert len(asker.window) == asker.peak == CAP and asker.requests == 1_000
    assert seen.arp.untracked > 0


def test_icmp_flood_state_is_capped(small_caps: None) -> None:
    seen = observe(port_unreachables(1_000))
    assert len(seen.errors) == CAP
    assert seen.untracked_conversations == 1_000 - CAP


def test_cap_reached_is_a_note_in_the_report(small_caps: None, tmp_path: Path) -> None:
    capture = tmp_path / "flood.pcap"
    synthetic.write_pcap(capture, synthetic.icmp_flood(CAP * 3))
    report = analyze_module.analyze(capture)
    assert any(note.startswith("state cap reached") for note in report.notes), report.notes
    out = io.StringIO()
    terminal.write(report, out)
    assert "NOTE: state cap reached" in out.getvalue()


def test_one_huge_packet(tmp_path: Path) -> None:
    capture = tmp_path / "huge.pcap"
    synthetic.write_pcap(capture, synthetic.huge_packet())
    assert capture.stat().st_size > synthetic.MAX_SNAPLEN
    outcome = verdict.run_case("huge", "limits", capture, timeout=TIME_LIMIT)
    assert outcome.problem is None and outcome.code == ExitCode.OK, outcome


def test_many_tiny_packets(tmp_path: Path) -> None:
    capture = tmp_path / "tiny.pcap"
    synthetic.write_pcap(capture, synthetic.tiny_frames(100_000), step_us=1)
    result = verdict.run_case("tiny", "limits", capture, "--json", timeout=TIME_LIMIT)
    assert result.problem is None and result.code == ExitCode.OK, result


# --- tshark failing ----------------------------------------------------------------------------


def tshark_wrapper(tmp_path: Path, body: str) -> dict[str, str]:
    """A PATH whose `tshark` answers -v as the real one and runs `body` for the analysis
    ($REAL is the real tshark)."""
    real = shutil.which("tshark")
    assert real is not None
    directory = tmp_path / "bin"
    directory.mkdir()
    script = directory / "tshark"
    script.write_text(f'#!/bin/sh\nREAL={real}\n[ "$1" = -v ] && exec "$REAL" -v\n{body}\n')
    script.chmod(0o755)
    return {"PATH": f"{directory}:/usr/bin:/bin"}


def refused(tmp_path: Path, body: str) -> verdict.Outcome:
    env = tshark_wrapper(tmp_path, body)
    outcome = verdict.run_case("tshark", "tshark", CAPTURES / "host-down-combined.pcapng",
                               timeout=TIME_LIMIT, env=env)
    assert outcome.problem is None, outcome
    assert outcome.code == ExitCode.TSHARK_FAILED, outcome
    assert "tshark failed" in outcome.stderr
    return outcome


def test_tshark_killed_mid_file(tmp_path: Path) -> None:
    """Killed (as by the OOM killer) after part of its output: no partial report."""
    outcome = refused(tmp_path, '"$REAL" "$@" | head -c 300\nkill -KILL $$')
    assert "killed by signal 9" in outcome.stderr


def test_tshark_crashing_after_its_output(tmp_path: Path) -> None:
    """The whole output, then a crash on the way out: still not a complete analysis."""
    outcome = refused(tmp_path, '"$REAL" "$@"\necho "tshark: assertion failed" >&2\nkill -ABRT $$')
    assert "signal 6" in outcome.stderr and "assertion failed" in outcome.stderr


def test_tshark_crashing_after_reporting_damage(tmp_path: Path) -> None:
    """A damage message does not turn a crash into a damaged capture (exit 6)."""
    refused(tmp_path, '"$REAL" "$@" | head -c 300\n'
                      'echo "tshark: The file \\"x\\" appears to have been cut short" >&2\n'
                      "kill -SEGV $$")


def test_tshark_failing_with_hostile_words(tmp_path: Path) -> None:
    """tshark's message is shown on the one error line, its control characters escaped."""
    outcome = refused(tmp_path, 'printf "tshark: bad \\033[2J\\033]0;x\\007 thing\\n" >&2\nexit 2')
    assert "exit status 2" in outcome.stderr and "bad \\x1b[2J" in outcome.stderr


def test_tshark_that_does_not_run(tmp_path: Path) -> None:
    directory = tmp_path / "bin"
    directory.mkdir()
    (directory / "tshark").write_text("#!/nonexistent/interpreter\n")
    (directory / "tshark").chmod(0o755)
    outcome = verdict.run_case("tshark", "tshark", CAPTURES / "udp-closed-port.pcapng",
                               timeout=TIME_LIMIT, env={"PATH": str(directory)})
    assert outcome.problem is None and outcome.code == ExitCode.TSHARK_MISSING, outcome


def test_config_ini_in_the_working_directory_cannot_pick_tshark(tmp_path: Path) -> None:
    """pyshark reads ./config.ini for its tshark path; netwhy must not run what it names."""
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil"
    evil.write_text(f"#!/bin/sh\ntouch {marker}\nexec tshark \"$@\"\n")
    evil.chmod(0o755)
    (tmp_path / "config.ini").write_text(f"[tshark]\ntshark_path = {evil}\n")
    command = [str(verdict.NETWHY), "explain", str(CAPTURES / "udp-closed-port.pcapng"), "--json"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, timeout=TIME_LIMIT)
    assert result.returncode == ExitCode.OK and json.loads(result.stdout)["packets"] == 8
    assert not marker.exists()


def test_a_storm_past_the_kept_targets_says_at_least(monkeypatch: pytest.MonkeyPatch) -> None:
    """One station asking for more addresses than are kept: the summary may not name the
    cap as if it were the count."""
    from netwhy.expert.analyze import diagnose
    from netwhy.kb import load_knowledge_base

    monkeypatch.setattr(arp_observations, "MAX_TARGETS_KEPT", 100)
    # Each address asked three times, as a station's kernel asks: a storm, where a scanner's
    # one request per address would be a sweep (scan.sweep) that folds the storm into it.
    requests = [replace(arp, frame=arp.frame + 500 * again, time=arp.time + 0.05 * again)
                for again in range(3) for arp in arp_requests(500, askers=1)]
    storm = [d for d in diagnose(observe(requests), load_knowledge_base())
             if d.condition == "arp.storm"]
    assert len(storm) == 1
    assert storm[0].subject.dst == "at least 100 addresses"
