"""A capture's failures over its duration, by severity, drawn with matplotlib for the report's
overview: one band per severity, each diagnosis a bar from its first to its last evidence
frame with a tick at every frame drawn, the best few numbered as in the list below it. The
axis counts seconds, minutes or hours from the first frame, whichever suits the capture's
length, so ten seconds and ten hours read alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from netwhy.expert.diagnosis import Diagnosis
from netwhy.site.figures import FOREGROUND, SEVERITY_COLORS, figure_html, pyplot

FAILURES = ("error", "warning", "note")  # chat (working as expected) is no failure
MARKED = 5  # the best diagnoses numbered on the picture
TICKS_MAX = 200  # evidence frames drawn per diagnosis
UNITS = ((120.0, 1.0, "s"), (7200.0, 60.0, "min"), (float("inf"), 3600.0, "h"))


@dataclass(frozen=True)
class Span:
    rank: int
    severity: str
    title: str
    times: tuple[float, ...]  # seconds after the capture's first frame, of frames with a row


def spans(diagnoses: Sequence[Diagnosis], times: Mapping[int, float]) -> list[Span]:
    """The failures among diagnoses (best first), each with the times of its frames."""
    out = []
    for rank, d in enumerate(diagnoses, start=1):
        found = tuple(sorted(times[n] for n in d.evidence[:TICKS_MAX] if n in times))
        if d.severity in FAILURES and found:
            out.append(Span(rank, d.severity, d.title, found))
    return out


def timeline_html(found: Sequence[Span], duration: float) -> str:
    """The picture of `found` over a capture of `duration` seconds, as an HTML figure."""
    plt = pyplot()
    severities = [s for s in FAILURES if any(span.severity == s for span in found)]
    duration = max([duration, *(span.times[-1] for span in found), 1e-6])
    _, scale, unit = next(u for u in UNITS if duration <= u[0])
    fig = plt.figure(figsize=(6.0, 1.0 + 0.55 * len(severities)))
    ax = fig.add_axes((0.15, 0.7 / (1.0 + 0.55 * len(severities)), 0.84,
                       0.55 * len(severities) / (1.0 + 0.55 * len(severities))))
    rows = {severity: len(severities) - 1 - index for index, severity in enumerate(severities)}
    placed: dict[str, int] = {}
    for span in found:
        lane = placed.get(span.severity, 0)
        placed[span.severity] = lane + 1
        y = rows[span.severity] + (lane % 3 - 1) * 0.22  # up to three side by side
        color = SEVERITY_COLORS[span.severity]
        xs = [t / scale for t in span.times]
        ax.plot([xs[0], xs[-1]], [y, y], color=color, linewidth=5, alpha=0.35,
                solid_capstyle="round", gid=f"timeline-span-{span.rank}")
        ax.plot(xs, [y] * len(xs), linestyle="none", marker="|", markersize=9, color=color,
                markeredgewidth=1.5)
        if span.rank <= MARKED:
            # Left of its bar, at its own height: marks of neighbouring bars do not collide.
            ax.annotate(str(span.rank), (xs[0], y), xytext=(-6, 0), textcoords="offset points",
                        ha="right", va="center", fontsize=10, fontweight="bold",
                        color=FOREGROUND, gid=f"timeline-top-{span.rank}", parse_math=False)
    ax.set_yticks(list(rows.values()), [s for s in rows], fontsize=10)
    ax.set_ylim(-0.6, len(severities) - 0.35)
    ax.set_xlim(-duration / scale * 0.04, duration / scale * 1.02)  # room for a mark at 0
    ax.set_xlabel(f"time since the first frame ({unit})", fontsize=10)
    ax.tick_params(axis="x", labelsize=9.5)
    ax.grid(axis="x", alpha=0.25)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return figure_html(fig, "timeline", _label(found, duration, unit, scale),
                       _caption(found, duration, unit, scale))


def _amount(value: float) -> str:
    """A time for people: never in exponent notation (a tshark frame at 2.7e-05 s)."""
    if value == 0 or value >= 100:
        return f"{value:.0f}"
    return f"{value:.6f}".rstrip("0") if value < 0.01 else f"{value:.3g}"


def _label(found: Sequence[Span], duration: float, unit: str, scale: float) -> str:
    counted = ", ".join(f"{sum(s.severity == severity for s in found)} {severity}"
                        for severity in FAILURES if any(s.severity == severity for s in found))
    return (f"Timeline of {len(found)} failures ({counted}) over "
            f"{_amount(duration / scale)} {unit} of capture. The tables below list every "
            "diagnosis.")


def _caption(found: Sequence[Span], duration: float, unit: str, scale: float) -> str:
    marked = "; ".join(f"{s.rank}: {s.title} at {_amount(s.times[0] / scale)} {unit}"
                       for s in found if s.rank <= MARKED)
    return (f"Failures over the capture's {_amount(duration / scale)} {unit}, by severity: a bar "
            f"from each diagnosis's first to its last evidence frame, a tick per frame. "
            f"Numbered: {marked}.")
