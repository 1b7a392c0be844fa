"""Hostile input, briefly: random packets, mutated captures, made-up facts, hostile file names.

Every case runs the installed `netwhy` under a time limit and is judged by tests/fuzz/verdict.py
(documented exit status, one-line refusals, no traceback, escaped output, input untouched).
Seeds are fixed; the long run with thousands of cases is tests/fuzz/run.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import CAPTURES, PUBLIC
from hypothesis import HealthCheck, given, settings

sys.path.insert(0, str(Path(__file__).parent / "fuzz"))
import fact_strategies
import mutations
import verdict

from netwhy.errors import ExitCode
from netwhy.kb import load_knowledge_base
from netwhy.text import printable

TIME_LIMIT = 60.0
CORPUS = Path(__file__).parent / "fuzz" / "corpus"
# Seeds with ICMP errors and ARP, in both file formats, from the lab and from elsewhere.
SEEDS = (
    CAPTURES / "udp-closed-port.pcapng", CAPTURES / "host-down-combined.pcapng",
    CAPTURES / "arp-unanswered.pcapng", CAPTURES / "path-mtu-df.pcapng",
    PUBLIC / "zeek" / "icmp-destunreach-udp.pcap", PUBLIC / "zeek" / "arp-who-has.pcap",
)


def assert_kept_contract(outcomes: list[verdict.Outcome]) -> None:
    broken = [f"{o.case}: {o.problem} (exit {o.code}) {o.stderr[-400:]}"
              for o in outcomes if o.problem]
    assert not broken, "\n".join(broken)


def test_randpkt_every_packet_type() -> None:
    """randpkt's every type (its output, 16 packets each, merged into one pcapng)."""
    capture = CORPUS / "randpkt-all-types.pcapng"
    outcomes = [verdict.run_case("randpkt", "randpkt", capture, *options, timeout=TIME_LIMIT)
                for options in ((), ("--json",))]
    assert_kept_contract(outcomes)
    assert {o.code for o in outcomes} <= {ExitCode.OK, ExitCode.TRUNCATED}


@pytest.mark.parametrize("kind", sorted(mutations.MUTATORS))
def test_mutated_captures(tmp_path: Path, kind: str) -> None:
    def one(n: int) -> verdict.Outcome:
        original = SEEDS[n % len(SEEDS)]
        path = tmp_path / f"{kind}-{n}.pcap"
        path.write_bytes(mutations.mutate(kind, 1000 + n, original.read_bytes()))
        options = ("--json",) if n % 2 else ()
        return verdict.run_case(f"{kind} #{n} of {original.name}", kind, path, *options,
                                timeout=TIME_LIMIT)

    with ThreadPoolExecutor(2) as pool:
        assert_kept_contract(list(pool.map(one, range(2))))


def test_mutations_are_deterministic() -> None:
    original = SEEDS[0].read_bytes()
    for kind in mutations.MUTATORS:
        assert mutations.mutate(kind, 5, original) == mutations.mutate(kind, 5, original)


def test_icmp_error_quoting_a_header_cut_between_its_addresses(tmp_path: Path) -> None:
    """tshark shows the quoted source address but not the destination: no traceback, and the
    error still counts (found by the fuzzer: an IndexError in dissect/icmp.py)."""
    capture = mutations.parse((PUBLIC / "zeek" / "icmp-destunreach-udp.pcap").read_bytes())
    index = next(i for i in mutations.packet_units(capture)
                 if mutations._icmp_offset(mutations.packet_data(capture, i)) is not None)
    frame = mutations.packet_data(capture, index)
    icmp = mutations._icmp_offset(frame)
    assert icmp is not None
    cut = tmp_path / "cut-quote.pcap"
    cut.write_bytes(mutations.with_packet_data(capture, index, frame[: icmp + 8 + 16]).join())
    outcome = verdict.run_case("cut quote", "crafted", cut, "--json", timeout=TIME_LIMIT)
    assert_kept_contract([outcome])
    assert outcome.code == ExitCode.OK


_KB = load_knowledge_base()


@settings(max_examples=150, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(fact_strategies.facts)
def test_made_up_facts_through_the_rules(stream) -> None:
    """Facts as dissect/ makes them, any values tshark can print: observe, diagnose, render."""
    fact_strategies.check_pipeline(stream, _KB)


# --- names and escaping ----------------------------------------------------------------------

HOSTILE_NAMES = (
    "with space.pcapng", "quote's \"double\".pcapng", "-leading-dash.pcapng",
    "$(touch pwned); `id`.pcapng", "esc\x1b[31mred\x1b]0;title\x07.pcapng",
    "new\nline\ttab.pcapng", "bidi\u202egnp.pcap", "csi\x9b31m.pcapng",
)


def hostile_copy(tmp_path: Path, name: str | bytes) -> Path:
    path = tmp_path / os.fsdecode(name)
    shutil.copy(CAPTURES / "udp-closed-port.pcapng", path)
    return path


@pytest.mark.parametrize("name", [*HOSTILE_NAMES, b"latin1-caf\xe9-\xff.pcapng"],
                         ids=lambda name: repr(name))
def test_hostile_file_names(tmp_path: Path, name: str | bytes) -> None:
    path = hostile_copy(tmp_path, name)
    outcome = verdict.run_case("name", "names", path, timeout=TIME_LIMIT)
    assert_kept_contract([outcome])
    assert outcome.code == ExitCode.OK
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


def test_hostile_names_print_escaped(tmp_path: Path) -> None:
    path = hostile_copy(tmp_path, b"a\xff\x1b[2Jb.pcapng")
    result = subprocess.run([str(verdict.NETWHY), "explain", str(path)], capture_output=True,
                            env={**os.environ, **verdict.STRICT_UTF8})
    first = result.stdout.decode("utf-8").splitlines()[0]
    assert first.startswith(str(tmp_path) + "/a\\xff\\x1b[2Jb.pcapng: ")


def test_hostile_names_in_refusals(tmp_path: Path) -> None:
    for name in ("-dash\n$(id)\x1b]0;t\x07.pcap", b"gone-\xff\x1b[2J\xc2\x9b.pcap"):
        missing = tmp_path / os.fsdecode(name)
        outcome = verdict.run_case("missing", "names", missing, timeout=TIME_LIMIT)
        assert_kept_contract([outcome])
        assert outcome.code == ExitCode.UNREADABLE


def test_damage_message_with_hostile_name(tmp_path: Path) -> None:
    path = hostile_copy(tmp_path, "cut\x1b[31m\n.pcapng")
    path.write_bytes(path.read_bytes()[:-30])
    outcome = verdict.run_case("cut", "names", path, timeout=TIME_LIMIT)
    assert_kept_contract([outcome])
    assert outcome.code == ExitCode.TRUNCATED


def test_json_report_is_ascii(tmp_path: Path) -> None:
    path = hostile_copy(tmp_path, os.fsdecode(b"caf\xc3\xa9-\x1b-\xff.pcapng"))
    result = subprocess.run([str(verdict.NETWHY), "explain", str(path), "--json"],
                            capture_output=True, env={**os.environ, **verdict.STRICT_UTF8})
    assert result.returncode == 0
    result.stdout.decode("ascii")
    # Not UTF-8: written out as escapes, so that strict JSON parsers accept the report.
    assert json.loads(result.stdout)["capture"] == printable(str(path))


def test_display_filter_never_reaches_a_shell(tmp_path: Path) -> None:
    capture = hostile_copy(tmp_path, "c.pcapng")
    marker = tmp_path / "pwned"
    for target in (f'frame contains "$(touch {marker})"', f"ip.src == 1.2.3.4; touch {marker}"):
        result = subprocess.run([str(verdict.NETWHY), "why", str(capture), "--", target],
                                capture_output=True, text=True, timeout=TIME_LIMIT)
        assert result.returncode in (ExitCode.OK, ExitCode.USAGE), result.stderr
        assert "Traceback" not in result.stderr
        assert not marker.exists()


@pytest.mark.parametrize(("raw", "shown"), [
    ("\x1b[31mred", "\\x1b[31mred"),  # CSI
    ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),  # OSC (window title) and BEL
    ("\x9b31m", "\\x9b31m"),  # C1 CSI
    ("line\nforged", "line\\x0aforged"),
    ("tab\there", "tab\\x09here"),
    ("\x7f", "\\x7f"),
    ("\u202eevil", "\\u202eevil"),  # right-to-left override
    ("a\u2028b", "a\\u2028b"),
    (os.fsdecode(b"caf\xe9"), "caf\\xe9"),  # an undecodable byte of a file name
    ("café → 😀", "café → 😀"),  # printable non-ASCII stays as it is
])
def test_printable(raw: str, shown: str) -> None:
    assert printable(raw) == shown
    printable(raw).encode("utf-8")


def test_a_pipe_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "capture.pcap"
    os.mkfifo(fifo)
    outcome = verdict.run_case("fifo", "names", fifo, timeout=TIME_LIMIT)
    assert_kept_contract([outcome])
    assert outcome.code == ExitCode.UNREADABLE and "not a regular file" in outcome.stderr


def test_a_header_tshark_refuses_is_not_a_capture(tmp_path: Path) -> None:
    """A pcap magic number over a header tshark cannot use: tshark refuses the file, it did
    not crash (exit 4, not 8; found by the fuzzer)."""
    path = tmp_path / "bad-header.pcap"
    path.write_bytes(b"\xd4\xc3\xb2\xa1" + b"x" * 40)
    outcome = verdict.run_case("bad header", "crafted", path, timeout=TIME_LIMIT)
    assert_kept_contract([outcome])
    assert outcome.code == ExitCode.NOT_A_CAPTURE, outcome
    assert "network type reserved field" in outcome.stderr
