"""matplotlib, set up once for the sites' pictures, and a figure as HTML to embed in a page.

The pictures are inline SVG with real text (svg.fonttype "none"), no TeX and no mathtext (every
text call passes parse_math=False: a "$" in a capture's name stays a "$"), a transparent
background, and two stand-in colours that become the page's own text colours, so one picture
reads in Furo's light and dark themes alike. The SVG is matplotlib's; the only changes made
to it are textual: those colours, its fixed size (it scales to the column instead) and what
an inline SVG must not carry (the XML prolog, comments, a style sheet for the whole page).
"""

from __future__ import annotations

import contextlib
import html
import io
import re
import threading
import warnings
from collections.abc import Iterator
from typing import Any

# Stand-ins, never used by matplotlib itself: replaced in the SVG by the page's colours.
FOREGROUND = "#010203"
MUTED = "#040506"
_COLORS = {FOREGROUND: "currentColor",
           MUTED: "var(--color-foreground-muted, #767676)"}
# Severity colours readable on white and on Furo's dark background alike.
SEVERITY_COLORS = {"error": "#d93025", "warning": "#d88a00", "note": "#3d8fd1",
                   "chat": "#8a8f98"}
ACCENT = "#3d8fd1"
_SETTINGS = {
    "svg.fonttype": "none",  # text stays text: selectable, searchable, read by the browser
    "svg.hashsalt": "netwhy",  # ids derived from content: the same capture, the same page
    "text.usetex": False,
    "font.family": ["DejaVu Sans"],  # installed by setup.sh (fonts-dejavu-core), and bundled
    "font.size": 9,
    "axes.unicode_minus": False,
    "axes.edgecolor": MUTED,
    "axes.labelcolor": FOREGROUND,
    "xtick.color": MUTED,
    "xtick.labelcolor": FOREGROUND,
    "ytick.color": MUTED,
    "ytick.labelcolor": FOREGROUND,
    "text.color": FOREGROUND,
    "path.simplify": True,
}
_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.S)
_COMMENT = re.compile(r"<!--.*?-->\s*", re.S)
_STYLE = re.compile(r"<style\b.*?</style>\s*", re.S)
_SIZE = re.compile(r'(<svg\b[^>]*?)\s+width="([\d.]+)pt"\s+height="[^"]*"')
_ready: Any = None
_importing = threading.Lock()


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend with netwhy's settings (imported on first use:
    it costs a few tenths of a second, which only a page with a picture should pay)."""
    global _ready
    with _importing:
        if _ready is None:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            plt.rcParams.update(_SETTINGS)
            _ready = plt
    return _ready


@contextlib.contextmanager
def imported_meanwhile() -> Iterator[None]:
    """Import matplotlib in a thread while the block waits on something else (tshark listing
    the evidence frames: a child process, so the import does not compete for the GIL), and
    wait for it before going on, so that no thread outlives the block."""
    worker = threading.Thread(target=pyplot, name="netwhy-matplotlib", daemon=True)
    worker.start()
    try:
        yield
    finally:
        worker.join()


def figure_html(fig: Any, kind: str, label: str, caption: str) -> str:
    """The figure as an HTML <figure> (closing it): inline SVG, an accessible name for screen
    readers (`label`: netwhy's words and addresses only, never free text from a capture, since
    it becomes an attribute) and a visible caption (escaped here)."""
    buffer = io.StringIO()
    try:
        with warnings.catch_warnings():
            # A capture's name in a script DejaVu lacks: the SVG keeps the text and the browser
            # finds a font for it; matplotlib's warning would only clutter netwhy's stderr.
            warnings.filterwarnings("ignore", message="Glyph .* missing from", category=UserWarning)
            fig.savefig(buffer, format="svg", transparent=True, metadata={"Date": None})
    finally:
        pyplot().close(fig)
    svg = _STYLE.sub("", _COMMENT.sub("", _PROLOG.sub("", buffer.getvalue())))
    # Scales down to the column (a phone scrolls it sideways below a readable minimum, in
    # netwhy.css), never up beyond its own size (points to CSS pixels: 4/3).
    svg = _SIZE.sub(lambda m: f'{m[1]} class="netwhy-{kind}" '
                    f'style="max-width: {float(m[2]) * 4 / 3:.0f}px"', svg, count=1)
    for stand_in, color in _COLORS.items():
        svg = svg.replace(stand_in, color)
    return (f'<figure class="netwhy-figure netwhy-figure-{kind}">'
            f'<div class="netwhy-figure-scroll" role="img" aria-label="{html.escape(label)}">'
            f"{svg.strip()}</div>"
            f"<figcaption>{html.escape(caption, quote=False)}</figcaption></figure>")


def raw_html(markup: str) -> str:
    """reST embedding markup that netwhy made (never a capture's text unescaped)."""
    body = "\n".join(f"   {line}" if line.strip() else "" for line in markup.splitlines())
    return f".. raw:: html\n\n{body}\n"
