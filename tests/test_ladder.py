"""Ladder diagrams and the timeline: the arrows and their order for known captures, from the
model that drives the drawing, from the picture (inline SVG) and from `netwhy why`'s text;
folding of long diagnoses; escaping of capture text in the pictures."""

from __future__ import annotations

import functools
import re

import pytest
from conftest import CAPTURES, run_netwhy

from netwhy.dissect.tshark import tshark_path_and_version
from netwhy.expert.analyze import analyze
from netwhy.render import ladder_text
from netwhy.render.ladder import ARROWS_MAX, Ladder, Lane, Step, frames_wanted, ladder
from netwhy.site.frames import FrameRow, frame_rows


@functools.cache
def drawn(capture: str, condition: str | None = None) -> Ladder:
    """The ladder of the capture's diagnosis of `condition` (None: its best diagnosis)."""
    path = CAPTURES / f"{capture}.pcapng"
    report = analyze(path)
    diagnosis = next(d for d in report.diagnoses if condition in (None, d.condition))
    tshark, version = tshark_path_and_version()
    found = ladder(diagnosis, frame_rows(path, frames_wanted(diagnosis), tshark, version))
    assert found is not None
    return found


def arrows(found: Ladder) -> list[tuple[int, str, str, str]]:
    """Each arrow as (frame, from address, to address, label), in the ladder's order."""
    return [(a.frame, found.lanes[a.src].address, found.lanes[a.dst].address, a.label)
            for a in found.arrows]


def lanes(found: Ladder) -> list[tuple[str, str]]:
    return [(lane.address, lane.role) for lane in found.lanes]


def missing(found: Ladder) -> list[tuple[str, str, str]]:
    return [(found.lanes[s.src].address, found.lanes[s.dst].address, s.label)
            for s in found.steps if s.kind == "missing"]


# --- the model --------------------------------------------------------------------------------


def test_refused_connection_is_a_syn_and_its_reset() -> None:
    found = drawn("tcp-refused", "tcp.refused")
    assert lanes(found) == [("192.0.2.10", "client"), ("192.0.2.20", "server")]
    assert arrows(found) == [(3, "192.0.2.10", "192.0.2.20", "SYN"),
                             (4, "192.0.2.20", "192.0.2.10", "RST, ACK")]
    assert missing(found) == []  # the reset is the answer
    assert [a.time for a in found.arrows] == [0.0, pytest.approx(0.000012, abs=2e-6)]


def test_host_down_behind_a_router_the_router_answers_the_host_never_does() -> None:
    found = drawn("host-down-behind-router", "icmp.unreachable.host")
    assert lanes(found) == [("192.0.2.10", "client"), ("192.0.2.1", "router"),
                            ("203.0.113.99", "server")]
    client, router, server = "192.0.2.10", "192.0.2.1", "203.0.113.99"
    assert arrows(found) == [
        (3, client, server, "Echo request seq=1"),
        (4, client, server, "SYN"),
        (5, client, server, "SYN (again)"),
        (6, client, server, "SYN (again)"),
        *[(n, router, client, "Host unreachable") for n in (7, 8, 9, 10)],
    ]
    assert missing(found) == [(server, client, "no reply")]
    assert found.steps[-1].kind == "missing"  # after the last attempt
    times = [a.time for a in found.arrows]
    assert times == sorted(times) and times[0] == 0.0 and 3.0 < times[-1] < 3.1


def test_unanswered_arp_is_broadcast_to_the_segment_and_no_reply_comes() -> None:
    found = drawn("arp-unanswered", "arp.unanswered")
    assert lanes(found) == [("192.0.2.10", "client"), ("192.0.2.99", "target"),
                            ("broadcast", "segment")]
    assert arrows(found) == [(n, "192.0.2.10", "broadcast", "Who has 192.0.2.99?")
                             for n in (5, 6, 7)]
    assert missing(found) == [("192.0.2.99", "192.0.2.10", "no ARP reply")]


def test_a_sweep_is_folded_and_says_what_it_left_out() -> None:
    found = drawn("udp-port-sweep")  # 30 probes, each answered by port unreachable
    assert found.frames >= 30 and found.drawn == len(found.arrows) == ARROWS_MAX
    kinds = [step.kind for step in found.steps]
    assert kinds.count("fold") == 1 and kinds[0] == kinds[-1] == "arrow"
    fold = next(step for step in found.steps if step.kind == "fold")
    assert fold.count == found.frames - found.drawn
    assert "Port unreachable" in fold.label and "192.0.2.20 -> 192.0.2.10" in fold.label
    frames = [a.frame for a in found.arrows]
    assert frames == sorted(frames) and frames[-1] == 62  # the last error is drawn
    head = frames[:kinds.index("fold")]
    assert head[-1] < fold.frame <= fold.last < frames[len(head)]
    assert any(a.src == 1 and a.dst == 0 and a.label == "Port unreachable"
               for a in found.arrows)


def test_a_duplicate_address_is_one_lane_per_mac() -> None:
    found = drawn("duplicate-ip", "arp.duplicate-ip")
    macs = [lane.role for lane in found.lanes if lane.address == "192.0.2.50"]
    assert len(macs) == 2 and all(role.startswith("at ") for role in macs)
    assert {a.src for a in found.arrows} == {i for i, lane in enumerate(found.lanes)
                                             if lane.address == "192.0.2.50"}


def test_the_model_round_trips_through_json() -> None:
    found = drawn("host-down-behind-router", "icmp.unreachable.host")
    assert Ladder.from_dict(found.to_dict()) == found


# --- the text ladder --------------------------------------------------------------------------


def test_text_ladder_draws_each_frame_in_order_with_its_direction() -> None:
    found = drawn("host-down-behind-router", "icmp.unreachable.host")
    text = ladder_text.lines(found, 100)
    assert "192.0.2.10" in text[0] and "203.0.113.99" in text[0] and "router" in text[1]
    body = text[2:]
    assert [int(line.split()[1]) for line in body[:-1]] == [a.frame for a in found.arrows]
    assert all("-->" in line or "->|" in line for line in body[:4])  # rightwards, to the server
    assert all("|<- Host unreachable" in line for line in body[4:8])
    assert "no reply" in body[-1] and body[-1].lstrip().startswith("|x")
    assert max(map(len, text)) <= 100


def test_text_ladder_of_a_sweep_has_one_fold_line() -> None:
    found = drawn("udp-port-sweep")
    text = ladder_text.lines(found, 80)
    folds = [line for line in text if "frames not drawn" in line]
    assert len(folds) == 1 and len(text) == 2 + found.drawn + 1


def test_text_ladder_needs_room() -> None:
    found = drawn("host-down-behind-router", "icmp.unreachable.host")
    assert ladder_text.lines(found, ladder_text.width_needed(3) - 1) == []
    assert ladder_text.lines(found, ladder_text.width_needed(3))


def test_why_prints_the_ladder_when_asked_and_not_into_a_pipe() -> None:
    capture = str(CAPTURES / "tcp-refused.pcapng")
    plain = run_netwhy("why", capture, "192.0.2.20:2222")
    assert plain.returncode == 0 and "frame by frame" not in plain.stdout
    drawn_out = run_netwhy("why", capture, "192.0.2.20:2222", "--ladder", env={"COLUMNS": "90"})
    assert drawn_out.returncode == 0, drawn_out.stderr
    lines = drawn_out.stdout.splitlines()
    start = lines.index("  the evidence of explanation 1, frame by frame:")
    assert re.search(r"\b3  \|-- SYN -+>\|", lines[start + 3])
    assert re.search(r"\b4  \|<- RST, ACK -+\|", lines[start + 4])
    assert all(len(line) <= 90 for line in lines[start:start + 5])
    # Everything else is what the plain output says.
    assert [line for line in lines if line not in lines[start:start + 5]] \
        == plain.stdout.splitlines()


@pytest.mark.parametrize(("columns", "drawn_there"), [(100, True), (50, False)])
def test_why_in_a_terminal_draws_the_ladder_when_it_fits(columns: int, drawn_there: bool) -> None:
    """The default: a terminal (a pseudo-terminal here) of `columns` columns, no COLUMNS."""
    output = _in_terminal(["why", str(CAPTURES / "tcp-refused.pcapng"), "192.0.2.20:2222"],
                          columns)
    assert "REFUSED" in output
    assert ("frame by frame" in output) is drawn_there
    if drawn_there:
        assert re.search(r"\b3  \|-- SYN -+>\|", output)
        lines = output.splitlines()
        start = next(i for i, line in enumerate(lines) if "frame by frame" in line)
        end = next(i for i, line in enumerate(lines) if line.startswith("  1. "))
        assert end - start == 5 and max(len(line) for line in lines[start:end]) <= columns


def _in_terminal(arguments: list[str], columns: int) -> str:
    import fcntl
    import os
    import struct
    import subprocess
    import termios

    from conftest import NETWHY

    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    process = subprocess.Popen([str(NETWHY), *arguments], stdin=subprocess.DEVNULL,
                               stdout=follower, stderr=subprocess.PIPE, env=env)
    os.close(follower)
    chunks = []
    try:
        while chunk := os.read(leader, 65536):
            chunks.append(chunk)
    except OSError:  # EIO: the terminal's other side closed
        pass
    finally:
        os.close(leader)
    assert process.wait(timeout=120) == 0, process.stderr.read() if process.stderr else ""
    return b"".join(chunks).decode().replace("\r\n", "\n")


# --- the pictures -----------------------------------------------------------------------------


def test_svg_has_an_arrow_per_frame_in_order() -> None:
    from netwhy.site.ladder_svg import ladder_html

    found = drawn("host-down-behind-router", "icmp.unreachable.host")
    page = ladder_html(found)
    ids = re.findall(r'<g id="ladder-arrow-(\d+)"', page)
    assert [int(n) for n in ids] == [a.frame for a in found.arrows]
    assert page.count('id="ladder-missing"') == 1 and page.count('id="ladder-lane-') == 3
    assert "<text" in page and "203.0.113.99" in page  # real text, not glyph outlines
    assert "<?xml" not in page and "<style" not in page and "<!--" not in page
    assert 'role="img" aria-label="Ladder diagram of 8 of 8 evidence frames' in page
    assert "currentColor" in page and "#010203" not in page


def test_svg_of_a_sweep_draws_the_fold_not_every_frame() -> None:
    from netwhy.site.ladder_svg import ladder_html

    found = drawn("udp-port-sweep")
    page = ladder_html(found)
    assert len(re.findall(r'<g id="ladder-arrow-', page)) == found.drawn <= ARROWS_MAX
    assert page.count('id="ladder-fold"') == 1 and "frames not drawn" in page
    assert f"{found.drawn} of {found.frames} frames are drawn (at most {ARROWS_MAX})" in page


def test_capture_text_in_a_picture_is_text() -> None:
    """No mathtext ($...$), no markup, no terminal escapes: what the capture says is shown."""
    from netwhy.site.ladder_svg import ladder_html

    hostile = "$x^2$ <b>&amp; \x1b[31m"
    found = Ladder((Lane("198.51.100.1", "client"), Lane(hostile, "host")),
                   (Step("arrow", 0, 1, hostile, frame=1, time=0.0),
                    Step("fold", 0, 1, hostile, frame=2, count=5, last=6),
                    Step("arrow", 1, 0, "$\\frac{1}{2}$", frame=7, time=1.5)), 7, 2)
    page = ladder_html(found)
    assert "$x^2$ &lt;b&gt;&amp;amp; \\x1b[31m" in page
    assert "$\\frac{1}{2}$" in page
    assert "<b>" not in page and "\x1b" not in page
    label = re.search(r'aria-label="([^"]*)"', page)
    assert label and "$" not in label[1] and "host 2" in label[1]  # not the hostile name
    text = ladder_text.lines(found, 80)
    assert "\x1b" not in "".join(text) and "$x^2$" in "".join(text)


def test_text_in_a_script_the_font_lacks_draws_without_a_warning() -> None:
    import warnings

    from netwhy.site.ladder_svg import ladder_html

    found = Ladder((Lane("198.51.100.1", "client"), Lane("198.51.100.2", "server")),
                   (Step("arrow", 0, 1, "DNS 例え.テスト", frame=1),), 1, 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        page = ladder_html(found)
    assert "例え.テスト" in page and [str(w.message) for w in caught] == []


@pytest.mark.parametrize(("duration", "unit"), [(10.0, "s"), (600.0, "min"), (36000.0, "h")])
def test_timeline_reads_for_seconds_and_for_hours(duration: float, unit: str) -> None:
    from netwhy.site.timeline import Span, timeline_html

    spans = [Span(1, "error", "Host unreachable", (duration * 0.1, duration * 0.5)),
             Span(2, "warning", "No answer at all", (duration * 0.2,)),
             Span(7, "note", "Port sweep", (duration * 0.9, duration))]
    page = timeline_html(spans, duration)
    assert f"time since the first frame ({unit})" in page
    assert [int(n) for n in re.findall(r'id="timeline-span-(\d+)"', page)] == [1, 2, 7]
    assert re.findall(r'id="timeline-top-(\d+)"', page) == ["1", "2"]  # 7 is not marked
    assert "e-0" not in page.split("<figcaption>")[1]


def test_frame_rows_carry_the_network_ends() -> None:
    tshark, version = tshark_path_and_version()
    rows = frame_rows(CAPTURES / "host-down-behind-router.pcapng", [1, 7], tshark, version)
    assert (rows[1].arp_op, rows[1].arp_src, rows[1].arp_dst) == ("1", "192.0.2.10", "192.0.2.1")
    assert (rows[7].ip_src, rows[7].ip_dst) == ("192.0.2.1", "192.0.2.10")  # outer, not quoted
    assert isinstance(rows[7], FrameRow)
