"""The pictures as a user sees them: a report built by `netwhy report`, served on localhost,
loaded by headless Chromium at a laptop's and a phone's width, in the light and the dark
theme. The DOM must hold the arrows the ladder model has (same frames, same order), and the
screenshot must show the picture: the page with the picture hidden differs from the page with
it in many pixels, across the column, with text in the theme's colour."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import CAPTURES, run_netwhy
from PIL import Image, ImageChops
from test_docs import _chromium, _dom, _served

from netwhy.dissect.tshark import tshark_path_and_version
from netwhy.expert.analyze import analyze
from netwhy.render.ladder import frames_wanted, ladder
from netwhy.site.frames import frame_rows
from netwhy.site.report import PAGES_MAX

CAPTURE = CAPTURES / "mixed-failures.pcapng"
WIDTHS = {"laptop": 1280, "phone": 390}
HIDDEN = "<style>.netwhy-figure svg { visibility: hidden; }</style></head>"
DARK = ["--force-dark-mode", "--blink-settings=preferredColorScheme=0"]


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "Chromium is missing: apt-get install chromium (setup.sh installs it)"
    return found


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report, and beside each page with a picture a copy whose pictures are hidden (the
    same layout: what differs between the two screenshots is the picture)."""
    out = tmp_path_factory.mktemp("ladder-report") / "site"
    done = run_netwhy("report", str(CAPTURE), str(out))
    assert done.returncode == 0, done.stderr
    for page in [out / "index.html", *sorted((out / "diagnoses").glob("*.html"))]:
        html = page.read_text(encoding="utf-8")
        assert "</head>" in html
        page.with_name(f"{page.stem}-hidden.html").write_text(
            html.replace("</head>", HIDDEN, 1), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def expected() -> dict[int, list[int]]:
    """By rank, the frames of the ladder's arrows, from the model (not from the pages)."""
    report = analyze(CAPTURE)
    shown = report.diagnoses[:PAGES_MAX]
    tshark, version = tshark_path_and_version()
    rows = frame_rows(CAPTURE, {n for d in shown for n in frames_wanted(d)}, tshark, version)
    found = {rank: ladder(d, rows) for rank, d in enumerate(shown, start=1)}
    return {rank: [a.frame for a in one.arrows] for rank, one in found.items() if one}


@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_every_diagnosis_page_has_its_arrows_in_order(
    site: Path, expected: dict[int, list[int]], chromium: str, width: int
) -> None:
    assert expected, "the capture has no diagnosis with a ladder"
    with _served(site) as url:
        for rank, frames in expected.items():
            dom = _chromium(chromium, "--dump-dom", f"--window-size={width},900",
                            f"{url}/diagnoses/{rank:04d}.html")
            figure = re.search(r'<figure class="netwhy-figure netwhy-figure-ladder">.*?'
                               r"</figure>", dom, re.S)
            assert figure, f"page {rank} has no ladder"
            arrows = [int(n) for n in re.findall(r'<g id="ladder-arrow-(\d+)"', figure[0])]
            assert arrows == frames, rank
            assert re.search(r'role="img" aria-label="Ladder diagram of \d+ of \d+ evidence',
                             figure[0])
            assert "<figcaption>" in figure[0] and 'class="netwhy-ladder"' in figure[0]
            assert '<table class="evidence' in dom  # the text alternative stays


def test_overview_has_a_timeline_mark_per_failure(site: Path, chromium: str) -> None:
    report = analyze(CAPTURE)
    failures = [rank for rank, d in enumerate(report.diagnoses[:PAGES_MAX], start=1)
                if d.severity != "chat"]
    with _served(site) as url:
        dom = _dom(chromium, f"{url}/index.html")
    spans = [int(n) for n in re.findall(r'<g id="timeline-span-(\d+)"', dom)]
    assert spans == failures
    assert "time since the first frame (s)" in dom


@pytest.mark.parametrize(("page", "name"), [("diagnoses/0001", "ladder"),
                                            ("index", "timeline")])
@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_the_picture_is_drawn(
    site: Path, chromium: str, tmp_path: Path, page: str, name: str, width: int
) -> None:
    with _served(site) as url:
        shown, hidden = _screenshots(chromium, url, page, width, tmp_path, [])
    changed = _changed(shown, hidden)
    box = changed.getbbox()
    assert box is not None, f"the {name} draws nothing at {width} px"
    pixels = changed.histogram()[255]
    assert pixels > 800, (name, width, pixels)
    # Across the column: at least most of a phone's width, and a real share of a laptop's.
    assert box[2] - box[0] > min(0.75 * width, 420), (name, width, box)
    assert box[3] - box[1] > 80, (name, width, box)


def test_the_ladder_reads_in_the_dark_theme(site: Path, chromium: str, tmp_path: Path) -> None:
    with _served(site) as url:
        shown, hidden = _screenshots(chromium, url, "diagnoses/0001", 1280, tmp_path, DARK)
    background = hidden.convert("L").getpixel((hidden.width // 2, hidden.height - 5))
    assert background < 80, "the dark theme did not apply"
    bright = shown.convert("L").point(lambda value: 255 if value > 150 else 0)
    light = ImageChops.multiply(_changed(shown, hidden), bright).histogram()[255]
    assert light > 300, f"{light} light pixels: the text is not in the dark theme's colour"


def _screenshots(chromium: str, url: str, page: str, width: int, folder: Path,
                 flags: list[str]) -> tuple[Image.Image, Image.Image]:
    shots = []
    for variant in ("", "-hidden"):
        shot = folder / f"{page.replace('/', '-')}{variant}-{width}.png"
        _chromium(chromium, *flags, f"--screenshot={shot}", f"--window-size={width},2600",
                  f"{url}/{page}{variant}.html")
        shots.append(Image.open(shot).convert("RGB"))
    return shots[0], shots[1]


def _changed(a: Image.Image, b: Image.Image) -> Image.Image:
    """A mask of the pixels that differ clearly between two screenshots."""
    return ImageChops.difference(a, b).convert("L").point(lambda value: 255 if value > 40 else 0)
