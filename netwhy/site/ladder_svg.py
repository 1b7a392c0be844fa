"""A ladder (netwhy.render.ladder) drawn with matplotlib, as HTML to embed in a page.

One vertical line per host with its address and role on top, one arrow per frame with its
frame number (Wireshark's) and label, the time after the first frame drawn on the left, a
dashed line ending in a cross for the reply that never came, and a grey band for a fold.
Each arrow's SVG group has the id "ladder-arrow-<frame>", which the browser tests count.
"""

from __future__ import annotations

import ipaddress
import re
import textwrap

from netwhy.render.ladder import ARROWS_MAX, Ladder
from netwhy.site.figures import ACCENT, FOREGROUND, MUTED, SEVERITY_COLORS, figure_html, pyplot
from netwhy.text import printable

LANE_GAP_IN = 2.1  # inches between two lanes: room for a label of ladder.LABEL_MAX characters
WIDTH_MAX_IN = 9.0
ROW_IN = 0.32
ROLES = ("client", "router", "server", "target", "host", "hosts", "segment")
FOLD_CHARACTERS_PER_IN = 14  # 8.5-point text


def ladder_html(ladder: Ladder) -> str:
    """The ladder as an HTML figure with a caption and an accessible name."""
    plt = pyplot()
    from matplotlib.patches import FancyArrowPatch

    lanes = len(ladder.lanes)
    gap = min(LANE_GAP_IN, (WIDTH_MAX_IN - 2.2) / max(lanes - 1, 1))
    width = 1.5 + gap * max(lanes - 1, 1) + 0.7
    rows = len(ladder.steps)
    fig = plt.figure(figsize=(width, 0.3 + ROW_IN * (rows + 2.3)))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    # Data coordinates: lane i at x = i * gap (inches), step k at y = k, top down.
    left = -1.5
    ax.set_xlim(left, gap * max(lanes - 1, 1) + 0.7)
    ax.set_ylim(rows - 0.2, -2.2)
    for index, lane in enumerate(ladder.lanes):
        x = index * gap
        ax.vlines(x, -0.55, rows - 0.45, color=MUTED, linewidth=1, gid=f"ladder-lane-{index}")
        ax.text(x, -1.55, printable(lane.address), ha="center", va="center", fontsize=10,
                fontweight="bold", parse_math=False)
        ax.text(x, -0.95, lane.role, ha="center", va="center", fontsize=9, color=MUTED,
                parse_math=False)
    ax.text(left + 0.1, -0.95, "time (s)", ha="left", va="center", fontsize=8.5, color=MUTED,
            parse_math=False)
    for y, step in enumerate(ladder.steps):
        if step.kind == "fold":
            ax.axhspan(y - 0.42, y + 0.42, color=MUTED, alpha=0.15, linewidth=0,
                       gid="ladder-fold")
            room = int((width - 0.4) * FOLD_CHARACTERS_PER_IN)
            text = printable(f"... {step.count} frames not drawn ({step.frame}-{step.last}): "
                             f"{step.label}")
            lines = textwrap.wrap(text, room, max_lines=2, placeholder=" …")
            ax.text((left + ax.get_xlim()[1]) / 2, y, "\n".join(lines), ha="center",
                    va="center", fontsize=8 if len(lines) > 1 else 8.5, style="italic",
                    linespacing=1.05, parse_math=False)
            continue
        x0, x1 = step.src * gap, step.dst * gap
        towards = x1 < x0 or (x1 == x0 and step.kind == "missing")
        if step.kind == "missing":
            ax.add_patch(FancyArrowPatch((x0, y), (x1, y), arrowstyle="-", linestyle=(0, (4, 3)),
                                         color=MUTED, linewidth=1.2, gid="ladder-missing"))
            ax.plot([x1], [y], marker="x", markersize=8, color=SEVERITY_COLORS["error"],
                    markeredgewidth=2)
            label = step.label
        else:
            if x0 == x1:  # to itself: a short loop outwards
                x1 = x0 + gap * 0.3
            ax.add_patch(FancyArrowPatch((x0, y), (x1, y), arrowstyle="-|>", mutation_scale=11,
                                         color=ACCENT if towards else FOREGROUND,
                                         linewidth=1.3, gid=f"ladder-arrow-{step.frame}"))
            label = f"{step.frame}  {step.label}"
            ax.text(left + 0.1, y, f"{step.time:.6f}", ha="left", va="center", fontsize=8.5,
                    family="DejaVu Sans Mono", parse_math=False)
        # Beside the sender, above the line: the label stays inside its first lane gap.
        offset = 0.1 if x1 >= x0 else -0.1
        ax.text(x0 + offset, y - 0.12, printable(label), ha="left" if x1 >= x0 else "right",
                va="bottom", fontsize=8.5, style="italic" if step.kind == "missing" else "normal",
                parse_math=False)
    return figure_html(fig, "ladder", _label(ladder), _caption(ladder))


def _label(ladder: Ladder) -> str:
    """The accessible name: counts, roles and addresses (checked to be addresses: this text
    becomes an attribute, so nothing else of the capture goes into it)."""
    hosts = ", ".join(f"{_address(lane.address, index)} ({_role(lane.role)})"
                      for index, lane in enumerate(ladder.lanes))
    missing = any(step.kind == "missing" for step in ladder.steps)
    return (f"Ladder diagram of {ladder.drawn} of {ladder.frames} evidence frames between "
            f"{hosts}{'; a reply that never came is marked' if missing else ''}. "
            "The evidence table lists every frame.")


def _caption(ladder: Ladder) -> str:
    arrows = ladder.arrows
    first = arrows[0].frame if arrows else 0
    out = (f"The evidence frames in time order, seconds after frame {first}; the numbers on "
           "the arrows are Wireshark's frame numbers.")
    if ladder.drawn < ladder.frames:
        out += (f" {ladder.drawn} of {ladder.frames} frames are drawn (at most {ARROWS_MAX}); "
                "the grey band says what the others were.")
    if any(step.kind == "missing" for step in ladder.steps):
        out += " The dashed line ending in a cross is the reply that never came."
    return out


def _role(text: str) -> str:
    if text in ROLES or re.fullmatch(r"at [0-9a-f]{2}(:[0-9a-f]{2}){5}", text):
        return text
    return "host"


def _address(text: str, index: int) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text if text in ("broadcast", "others") else f"host {index + 1}"
