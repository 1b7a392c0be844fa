"""One capture's findings as a Sphinx site: an overview and a page per diagnosis, with the
knowledge-base pages alongside so that every link works offline.

Every string taken from the capture (the file name, addresses, summaries, the packet list's
columns, packet comments, details) goes through `rst.text` or `rst.literal`; headings, document
names and the configuration hold only the knowledge base's words and numbers.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from netwhy.expert.diagnosis import SEVERITY_ORDER, Diagnosis
from netwhy.expert.registry import Rule
from netwhy.expert.report import Report
from netwhy.render.ladder import frames_wanted as ladder_frames
from netwhy.render.ladder import ladder
from netwhy.site import rst
from netwhy.site.build import build_site, refuse_foreign, write_pages
from netwhy.site.figures import imported_meanwhile, raw_html
from netwhy.site.frames import FrameRow
from netwhy.site.kbinputs import KbInputs, cause_label, page_name
from netwhy.site.kbpages import kb_pages
from netwhy.site.theme import badge

PAGES_MAX = 100  # diagnoses with a page of their own (best first); the rest are listed only
FRAMES_MAX = 200  # evidence frames shown per diagnosis
CONF = '''"""A netwhy capture report (generated; only the page sources vary)."""
from netwhy.site.theme import html_settings

project = "netwhy report"
extensions: list[str] = []
highlight_language = "none"
nitpicky = True
globals().update(html_settings("netwhy report"))
html_show_copyright = False
'''
SEVERITY_TITLES = {"error": "Errors", "warning": "Warnings", "note": "Notes",
                   "chat": "Working as expected"}


@dataclass(frozen=True)
class ReportSite:
    output: Path
    diagnoses: int
    pages: int


def frames_wanted(report: Report) -> set[int]:
    """The evidence tables' frames, the ladders' (their last few too), and the capture's first
    and last frame, whose times give the timeline its length."""
    shown = report.diagnoses[:PAGES_MAX]
    wanted = {n for d in shown for n in d.evidence[:FRAMES_MAX]}
    wanted |= {n for d in shown for n in ladder_frames(d)}
    return wanted | ({1, report.packets} if report.packets else set())


def make_report(capture: Path, output: Path) -> tuple[Report, ReportSite]:
    """Analyse the capture and write its site to output."""
    from netwhy.dissect.tshark import tshark_path_and_version
    from netwhy.expert.analyze import analyze
    from netwhy.site.frames import frame_rows
    from netwhy.site.kbinputs import kb_inputs

    refuse_foreign(output)  # before the analysis, which may take a while
    report = analyze(capture)
    tshark, version = tshark_path_and_version()
    with imported_meanwhile():  # the pictures' library, while tshark lists the frames
        rows = frame_rows(capture, frames_wanted(report), tshark, version)
    inputs = kb_inputs(None)
    shown = {d.condition for d in report.diagnoses[:PAGES_MAX]} & set(inputs.kb.conditions)
    related = {other for c in shown for other in inputs.kb.conditions[c].related}
    inputs = dataclasses.replace(inputs, only=frozenset(shown | related))
    return report, write_report_site(report, rows, inputs, output)


def write_report_site(
    report: Report, rows: dict[int, FrameRow], inputs: KbInputs, output: Path
) -> ReportSite:
    pages = report_pages(report, rows, inputs)
    with tempfile.TemporaryDirectory(prefix="netwhy-report-") as folder:
        srcdir = Path(folder)
        (srcdir / "conf.py").write_text(CONF, encoding="utf-8")
        write_pages(srcdir, pages, "kb")
        build_site(srcdir, output)
    return ReportSite(output, len(report.diagnoses), len(pages))


def report_pages(report: Report, rows: dict[int, FrameRow], inputs: KbInputs) -> dict[str, str]:
    pages = kb_pages(inputs)
    shown = report.diagnoses[:PAGES_MAX]
    pages["index"] = _overview(report, len(shown), rows)
    rules = {rule.id: rule for rule in inputs.rules}
    for rank, diagnosis in enumerate(shown, start=1):
        pages[_page(rank)] = _diagnosis_page(rank, diagnosis, rows, rules, inputs)
    return pages


def _page(rank: int) -> str:
    return f"diagnoses/{rank:04d}"


def _overview(report: Report, with_pages: int, rows: dict[int, FrameRow]) -> str:
    counts = Counter(d.severity for d in report.diagnoses)
    counted = ", ".join(f"{n} {s}" for s, n in sorted(
        counts.items(), key=lambda item: -SEVERITY_ORDER[item[0]])) or "no findings"
    facts = [
        (":Capture:", rst.text(report.capture)),
        (":Packets:", str(report.packets)),
        (":tshark:", rst.text(report.tshark_version)),
        (":Diagnoses:", rst.text(counted)),
        (":Conversations:", f"{len(report.conversations)}, "
         f"{sum(v.failed for v in report.conversations)} failed"),
        (":Analysis time:", rst.text(", ".join(f"{k} {v:g}" for k, v in report.timings.items()))),
    ]
    out = [rst.heading("Capture report"),
           "\n".join(f"{name} {value}" for name, value in facts) + "\n"]
    if report.truncated:
        out.append(".. warning::\n\n   The capture is damaged: "
                   f"{rst.text(report.truncated)}. netwhy analysed it up to the damage; later "
                   "packets are missing from this report.\n")
    for note in report.notes:
        out.append(f".. note::\n\n   {rst.text(note)}\n")
    out += _timeline(report, rows)
    out.append(rst.heading("Diagnoses by severity", "-"))
    if not report.diagnoses and report.unanalysed:
        out.append("Nothing in the packets netwhy analysed explains a failure. The packets it "
                   "did not analyse (see the notes) may hold one, and a silent drop leaves no "
                   "ICMP or ARP trace.\n")
    elif not report.diagnoses:
        out.append("Nothing in this capture explains a failure. That does not prove every "
                   "conversation succeeded: a silent drop leaves no ICMP or ARP trace.\n")
    ranks = {id(d): rank for rank, d in enumerate(report.diagnoses, start=1)}
    for severity, title in SEVERITY_TITLES.items():
        members = [d for d in report.diagnoses if d.severity == severity]
        if members:
            out.append(rst.heading(f"{title} ({len(members)})", "~"))
            out.append(_diagnoses_table(members, ranks, with_pages))
    if len(report.diagnoses) > with_pages:
        out.append(f"The first {with_pages} diagnoses by score have a page each; the others "
                   "are listed above only.\n")
    if report.conversations:
        out.append(rst.heading("Conversations", "-"))
        out.append(_conversations_table(report, ranks, with_pages))
    if with_pages:
        out.append(".. toctree::\n   :hidden:\n   :caption: Diagnoses\n\n"
                   + "".join(f"   /{_page(rank)}\n" for rank in range(1, with_pages + 1)))
    out.append(".. toctree::\n   :hidden:\n   :caption: Knowledge base\n\n   /kb/index\n")
    return "\n".join(out)


def _timeline(report: Report, rows: dict[int, FrameRow]) -> list[str]:
    """The failures over the capture's duration, when any has frames with a time."""
    from netwhy.site import timeline

    start = _seconds(rows[1].time) if 1 in rows else 0.0
    times = {n: _seconds(row.time) - start for n, row in rows.items()}
    found = timeline.spans(report.diagnoses[:PAGES_MAX], times)
    if not found:
        return []
    duration = times.get(report.packets, max(times.values()))
    return [rst.heading("Timeline", "-"), raw_html(timeline.timeline_html(found, duration))]


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def _link(diagnosis: Diagnosis, ranks: dict[int, int], with_pages: int) -> str:
    rank = ranks[id(diagnosis)]
    if rank > with_pages:
        return rst.text(f"{rank}. {diagnosis.title}")
    return rst.doc("/" + _page(rank), f"{rank}. {diagnosis.title}")


def _diagnoses_table(members: Sequence[Diagnosis], ranks: dict[int, int], with_pages: int) -> str:
    return rst.list_table(
        ["Diagnosis", "Score", "Summary", "Evidence frames"],
        [[_link(d, ranks, with_pages), f"{d.score:.2f}", rst.text(d.summary),
          rst.text(_frames(d.evidence))] for d in members],
        widths=[28, 8, 48, 16], css_class="diagnoses")


def _conversations_table(report: Report, ranks: dict[int, int], with_pages: int) -> str:
    rows = []
    for v in report.conversations:
        frames = f"{v.frames[0]}-{v.frames[-1]}" if v.frames else ""
        rows.append([rst.text(v.subject.describe()), rst.text(v.outcome),
                     f"{v.attempts} / {v.replies}", rst.text(frames),
                     ", ".join(_link(d, ranks, with_pages) for d in v.diagnoses
                               if id(d) in ranks) or "-"])
    return rst.list_table(["Conversation", "Outcome", "Attempts / replies", "Frames",
                           "Explained by"], rows, widths=[30, 15, 12, 13, 30])


def _diagnosis_page(
    rank: int, d: Diagnosis, rows: dict[int, FrameRow], rules: dict[str, Rule],
    inputs: KbInputs,
) -> str:
    known = d.condition in inputs.kb.conditions
    condition = (rst.doc("/" + page_name(d.condition), d.condition) if known
                 else rst.text(d.condition))
    sport = f" from port {d.subject.sport}" if d.subject.sport is not None else ""
    facts = [
        (":Condition:", condition),
        (":Severity:", badge(d.severity)),
        (":Score:", f"{d.score:.2f} (:term:`what is this? <score>`)"),
        (":Subject:", rst.text(d.subject.describe() + sport)),
        (":Reported by:", rst.text(d.reporter or "-") + " (:term:`reporter`)"),
        (":Messages:", rst.text(d.details.get("count", 1))),
    ]
    out = [rst.heading(f"{rank}. {d.title}"),
           "\n".join(f"{name} {value}" for name, value in facts) + "\n",
           ".. rst-class:: kb-summary\n\n" + rst.text(d.summary) + "\n"]
    if d.established:
        out += [rst.heading("What the evidence proves", "-"),
                rst.bullets(rst.text(fact) for fact in d.established)]
    drawn = ladder(d, rows)
    if drawn is not None:
        from netwhy.site.ladder_svg import ladder_html  # matplotlib: only for a page with one

        out += [rst.heading("Ladder diagram", "-"), raw_html(ladder_html(drawn))]
    out += [rst.heading("Evidence frames", "-"), _evidence_table(d, rows)]
    out += [rst.heading("Likely causes", "-"), _causes_table(d, known)]
    for cause in d.causes[:3]:
        out.append(rst.heading(f"Checks: {cause.id}", "~"))
        out.append(rst.bullets(rst.text(check) for check in cause.checks))
    out += [rst.heading("What to do", "-"), rst.bullets(rst.text(r) for r in d.remedies)]
    out += [rst.heading("Score", "-"), _score_table(d)]
    if d.details:
        out += [rst.heading("Details", "-"), rst.list_table(
            ["Detail", "Value"],
            [[rst.text(key), rst.text(value)] for key, value in d.details.items()],
            widths=[30, 70])]
    if d.rules:
        out += [rst.heading("Rules that contributed", "-"), rst.bullets(
            f"``{rule}``: {rst.text(rules[rule].summary)}" if rule in rules
            else rst.text(rule) for rule in d.rules)]
    if known:
        related = inputs.kb.conditions[d.condition].related
        links = [rst.doc("/" + page_name(d.condition), "this condition's page")]
        links += [inputs.link(other) for other in related]
        out += [rst.heading("In the knowledge base", "-"), rst.bullets(links)]
    return "\n".join(out)


def _evidence_table(d: Diagnosis, rows: dict[int, FrameRow]) -> str:
    shown = d.evidence[:FRAMES_MAX]
    # The packet-list columns, and packet comments only when a frame has one (room on a laptop).
    comments = any(rows[n].comments for n in shown if n in rows)
    cells = []
    for number in shown:
        row = rows.get(number)
        if row is None:  # past the damage of a truncated capture
            cells.append([str(number), "", "", "", "", "", "(not readable)"]
                         + ([""] if comments else []))
            continue
        cells.append([str(row.number), rst.text(row.time), rst.text(row.src),
                      rst.text(row.dst), rst.text(row.protocol), rst.text(row.length),
                      rst.text(row.info)]
                     + ([rst.text(" | ".join(row.comments))] if comments else []))
    header = ["No.", "Time", "Source", "Destination", "Protocol", "Length", "Info"]
    widths = [6, 10, 14, 14, 8, 7, 41]
    if comments:
        header, widths = [*header, "Comment"], [*widths[:-1], 29, 12]
    table = rst.list_table(header, cells, widths=widths, css_class="evidence")
    filter_text = "frame.number in {" + ",".join(map(str, d.evidence)) + "}"
    more = (f"The first {len(shown)} of {len(d.evidence)} frames are shown. "
            if len(d.evidence) > len(shown) else "")
    return (table + f"\n{more}In Wireshark, the display filter below selects them all:\n\n"
            + rst.literal([filter_text]))


def _causes_table(d: Diagnosis, known: bool) -> str:
    rows = []
    for cause in d.causes:
        name = (f":ref:`{cause.id} <{cause_label(d.condition, cause.id)}>`" if known
                else rst.text(cause.id))
        moved = "".join(f"; {rst.text(f'x{t.value:g} because {t.reason}')}" for t in cause.terms)
        rows.append([rst.text(f"{cause.score:.0%}"),
                     f"{name}: {rst.text(cause.text)}\n\n"
                     f".. rst-class:: cause-terms\n\nprior {cause.prior:g}{moved}"])
    # Two columns, the odds under each cause: readable on a phone without sideways scrolling.
    return rst.list_table([":term:`Share <cause>`", "Cause, its :term:`prior` and the "
                           ":term:`evidence that moved it <likelihood ratio>`"], rows,
                          widths=[12, 88], css_class="causes")


def _score_table(d: Diagnosis) -> str:
    rows = [[rst.text(t.name), f"{t.value:+.2f}", rst.text(t.reason)] for t in d.terms]
    rows.append(["**total**", f"**{d.score:.2f}**", "the sum, clamped to 0..1"])
    return rst.list_table(["Term", "Value", "Reason"], rows, widths=[20, 10, 70])


def _frames(frames: tuple[int, ...], limit: int = 8) -> str:
    shown = ", ".join(map(str, frames[:limit]))
    return shown + (f" and {len(frames) - limit} more" if len(frames) > limit else "")
