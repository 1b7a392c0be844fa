"""The documentation site and capture reports: built by Sphinx with warnings as errors, every
internal link resolving, nothing from a capture able to inject markup, and pages that load in a
real browser (headless Chromium) with their evidence tables."""

from __future__ import annotations

import contextlib
import functools
import html
import http.server
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from conftest import CAPTURES, explain_json, run_netwhy
from docutils.core import publish_doctree
from hypothesis import example, given, settings
from hypothesis import strategies as st

from netwhy.kb import load_knowledge_base
from netwhy.site import rst
from netwhy.text import printable

ROOT = Path(__file__).resolve().parent.parent
SPHINX_BUILD = Path(sys.executable).parent / "sphinx-build"
# Chromium on a closed network: no background connections, no sandbox (root), fresh profile.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
]
# Everything a packet or a comment could try: HTML, reST roles and directives, substitutions,
# backticks, and terminal escapes.
EVIL_QUERY = b"<script>alert(1)</script>`x`_ :raw-html:`<b>pwn</b>` \x1b[31m|sub|"
EVIL_COMMENT = ("<script>alert('comment')</script> :raw-html:`<img src=x onerror=alert(2)>` "
                "``lit`` \x1b[31m")
EVIL_DIRECTIVE = ".. raw:: html\n\n   <script>alert(3)</script>"
EVIL_NAME = "evil`<script>alert(9)<\\script>:raw-html:`.pcapng"


# --- fixtures: the sites, each built once ----------------------------------------------------


@pytest.fixture(scope="module")
def kb_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The documentation site, built by plain sphinx-build with warnings as errors."""
    out = tmp_path_factory.mktemp("kb-site")
    done = subprocess.run(
        [str(SPHINX_BUILD), "-W", "--keep-going", "-q", "-b", "html", str(ROOT / "docs"),
         str(out)], capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    return out


@pytest.fixture(scope="module")
def report_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "site"
    done = run_netwhy("report", str(CAPTURES / "mixed-failures.pcapng"), str(out))
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def hostile_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DNS query whose name is markup and escapes, answered by port unreachable (which quotes
    it), with packet comments that are markup too, in a file whose name is markup."""
    from scapy.layers.dns import DNS, DNSQR
    from scapy.layers.inet import ICMP, IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcapng

    folder = tmp_path_factory.mktemp("hostile")
    query = IP(src="192.0.2.10", dst="192.0.2.20") / UDP(sport=40000, dport=53) / DNS(
        rd=1, qd=DNSQR(qname=EVIL_QUERY))
    packets = []
    for _ in range(2):
        packets.append(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / query)
        packets.append(Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01")
                       / IP(src="192.0.2.20", dst="192.0.2.10") / ICMP(type=3, code=3)
                       / bytes(query))
    for index, packet in enumerate(packets):
        packet.time = 1_700_000_000 + index / 10
    plain = folder / "plain.pcapng"
    wrpcapng(str(plain), packets)
    evil = folder / EVIL_NAME
    editcap = shutil.which("editcap")
    assert editcap, "editcap comes with tshark"
    subprocess.run([editcap, "-a", f"1:{EVIL_COMMENT}", "-a", f"2:{EVIL_DIRECTIVE}", str(plain),
                    str(evil)], check=True, capture_output=True)
    return evil


@pytest.fixture(scope="module")
def hostile_report(hostile_capture: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hostile-report") / "site"
    done = run_netwhy("report", str(hostile_capture), str(out))
    assert done.returncode == 0, done.stderr
    return out


# --- the knowledge-base site ---------------------------------------------------------------


def test_every_condition_has_a_complete_page(kb_site: Path) -> None:
    kb = load_knowledge_base()
    for condition in kb.conditions.values():
        page = (kb_site / "kb" / f"{condition.id}.html").read_text(encoding="utf-8")
        text = _text(page)
        assert html.escape(condition.title) in page, condition.id
        assert " ".join(condition.meaning.split()[:8]) in text, condition.id
        for cause in condition.causes:
            assert f"{cause.id} (prior {cause.prior:g})" in text, (condition.id, cause.id)
            assert cause.checks[0].split()[0] in text
        for reference in condition.references:
            assert f'href="{reference.url}' in page, (condition.id, reference.rfc)
        for other in condition.related:
            assert f'href="{other}.html"' in page, (condition.id, other)
        assert f"netwhy lab run {condition.scenario}" in text, condition.id
        assert "Rules that detect it" in text and "Evidence from a test capture" in text
        assert "No excerpt" not in text, condition.id


def test_pages_list_rules_from_their_metadata(kb_site: Path) -> None:
    from netwhy.expert.registry import all_rules

    summaries = {rule.id: rule.summary for rule in all_rules()}
    port = _text((kb_site / "kb" / "icmp.unreachable.port.html").read_text(encoding="utf-8"))
    for rule in ("icmp-error.classify", "traceroute.final-hop"):
        assert rule in port and summaries[rule] in port
    arp = _text((kb_site / "kb" / "arp.duplicate-ip.html").read_text(encoding="utf-8"))
    assert "arp.duplicate-ip" in arp and "icmp-error.classify" not in arp  # ICMP-only rules


def test_evidence_excerpt_shows_the_tshark_lines_of_the_key_frames(kb_site: Path) -> None:
    page = _text((kb_site / "kb" / "icmp.unreachable.port.html").read_text(encoding="utf-8"))
    assert "tests/captures/udp-closed-port.pcapng" in page
    lines = re.findall(r"^\s*(\d+)\s+[\d.]+\s+192\.0\.2\.\d+ → 192\.0\.2\.\d+\s+(\w+)", page, re.M)
    assert [(int(n), proto) for n, proto in lines] == [
        (3, "UDP"), (4, "ICMP"), (6, "ICMP"), (8, "ICMP")]


def test_evidence_excerpt_draws_its_ladder(kb_site: Path) -> None:
    page = (kb_site / "kb" / "icmp.unreachable.port.html").read_text(encoding="utf-8")
    assert re.findall(r'<g id="ladder-arrow-(\d+)"', page) == ["3", "4", "6", "8"]
    assert '<figure class="netwhy-figure netwhy-figure-ladder">' in page


def test_indexes_and_glossary(kb_site: Path) -> None:
    kb_dir = kb_site / "kb"
    by_type = (kb_dir / "by-icmp-type.html").read_text(encoding="utf-8")
    assert 'href="icmp.unreachable.frag-needed.html"' in by_type
    by_symptom = _text((kb_dir / "by-symptom.html").read_text(encoding="utf-8"))
    for heading in ("Cannot connect", "Slow or stalls", "Intermittent", "Wrong path"):
        assert heading in by_symptom
    by_sender = (kb_dir / "by-sender.html").read_text(encoding="utf-8")
    assert 'id="kb-sender-router"' in by_sender and 'id="kb-sender-host"' in by_sender
    glossary = (kb_dir / "glossary.html").read_text(encoding="utf-8")
    assert 'id="term-quoted-datagram"' in glossary
    port = (kb_dir / "icmp.unreachable.port.html").read_text(encoding="utf-8")
    assert 'href="glossary.html#term-quoted-datagram"' in port  # cross-referenced
    for page in ("install", "usage", "reasoning", "architecture", "adding-a-condition"):
        assert (kb_site / f"{page}.html").exists(), page
    usage = _text((kb_site / "usage.html").read_text(encoding="utf-8"))
    for command in ("explain", "why", "annotate", "report", "lab", "docs build"):
        assert f"usage: netwhy {command}" in usage, command


def test_netwhy_docs_build_replaces_only_its_own_sites(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    refused = run_netwhy("docs", "build", str(foreign))
    assert refused.returncode == 10 and "not built by netwhy" in refused.stderr
    assert [p.name for p in foreign.iterdir()] == ["keep.txt"]
    earlier = tmp_path / "site"  # an earlier build: netwhy may replace it
    earlier.mkdir()
    (earlier / ".netwhy-site").write_text("")
    (earlier / "stale.html").write_text("")
    done = run_netwhy("docs", "build", str(earlier))
    assert done.returncode == 0, done.stderr
    assert (earlier / "kb" / "icmp.unreachable.port.html").exists()
    assert not (earlier / "stale.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign", "site"]  # no leftovers


# --- capture reports -------------------------------------------------------------------------


def test_report_overview_and_diagnosis_pages(report_site: Path) -> None:
    expected = explain_json(CAPTURES / "mixed-failures.pcapng")["diagnoses"]
    text = _text((report_site / "index.html").read_text(encoding="utf-8"))
    assert "mixed-failures.pcapng" in text and "Errors (3)" in text and "Warnings (1)" in text
    for rank, diagnosis in enumerate(expected, start=1):
        page = (report_site / "diagnoses" / f"{rank:04d}.html").read_text(encoding="utf-8")
        kb_page = f"../kb/{diagnosis['condition']}.html"
        assert f'href="{kb_page}"' in page
        top = diagnosis["causes"][0]["id"]
        anchor = re.sub(r"[^a-z0-9]+", "-", f"kb-{diagnosis['condition']}-{top}")
        assert f'href="{kb_page}#{anchor}"' in page
        rows = _evidence_rows(page)
        assert [int(row[0]) for row in rows] == diagnosis["evidence"], rank
        assert all(row[6] for row in rows)  # tshark's Info column
        page_text = _text(page)
        for section in ("Likely causes", "What to do", "Score", "Rules that contributed"):
            assert section in page_text
        for term in diagnosis["terms"]:
            assert term["name"] in page_text and f"{term['value']:+.2f}" in page_text
        assert diagnosis["remedies"][0] in page_text


def test_report_refuses_a_directory_it_did_not_build(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    done = run_netwhy("report", str(CAPTURES / "udp-closed-port.pcapng"), str(tmp_path))
    assert done.returncode == 10, done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    missing = run_netwhy("report", str(tmp_path / "absent.pcapng"), str(tmp_path / "out"))
    assert missing.returncode == 3 and not (tmp_path / "out").exists()


# --- hostile input ----------------------------------------------------------------------------


def test_nothing_in_a_capture_injects_markup(hostile_report: Path, report_site: Path) -> None:
    pages = {p.relative_to(hostile_report): p.read_text(encoding="utf-8")
             for p in hostile_report.rglob("*.html")}
    diagnosis = pages[Path("diagnoses/0001.html")]
    # The hostile text arrives, as text: escaped, whole, and not interpreted.
    assert html.escape("<script>alert(1)</script>`x`_ :raw-html:`<b>pwn</b>`", quote=False) \
        in diagnosis
    assert printable(EVIL_COMMENT) in _text(diagnosis)
    assert "\\x1b[31m" in diagnosis and "\x1b" not in diagnosis  # the escape byte, shown
    assert html.escape(".. raw:: html", quote=False) in diagnosis
    assert html.escape(EVIL_NAME, quote=False) in pages[Path("index.html")]
    # No element, attribute or script came from the capture: every page has exactly the
    # scripts and tags an ordinary report has.
    baseline = _scripts(report_site)
    for name, page in pages.items():
        found = _Tags()
        found.feed(page)
        assert not {"img", "b"} & found.names, name
        assert not any("alert" in value for value in found.attributes), name
        assert found.scripts <= baseline, (name, found.scripts - baseline)
    for search_file in hostile_report.rglob("*.js"):
        assert "\x1b" not in search_file.read_text(encoding="utf-8", errors="replace")


@settings(max_examples=300)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
# Found by Hypothesis: white space around a lone backslash, which escaped to a run of
# backslashes that docutils took for a transition; and its relatives.
@example(" \\")
@example("\\ ")
@example(" \\ ")
@example("\\")
@example("\\\\")
@example("a\\")
@example("\\ a")
@example("\\`")
@example("`\\")
def test_escaped_text_is_never_markup(value: str) -> None:
    """Whatever the text, reST shows it as text: in a paragraph, a list, a table cell and
    inline code, with no system message, reference, raw node or role."""
    table = rst.list_table(["a", "b"], [[rst.text(value), rst.code(value)]])
    source = f"x {rst.text(value)}\n\n{rst.bullets([rst.text(value)])}\n{table}"
    tree = publish_doctree(source, settings_overrides={
        "report_level": 5, "halt_level": 5, "raw_enabled": True, "file_insertion_enabled": True})
    bad = {"system_message", "problematic", "reference", "raw", "substitution_reference",
           "target", "footnote_reference", "citation_reference", "emphasis", "strong"}
    assert not [node.tagname for node in tree.findall() if node.tagname in bad]
    shown = " ".join(printable(value).split())
    for paragraph in tree.findall(lambda node: node.tagname == "paragraph"):
        assert " ".join(paragraph.astext().split()) in {shown, f"x {shown}".strip(), "a", "b"}


# --- every link, and a real browser ---------------------------------------------------------


@pytest.mark.parametrize("site", ["kb_site", "report_site", "hostile_report"])
def test_every_internal_link_resolves(site: str, request: pytest.FixtureRequest) -> None:
    root: Path = request.getfixturevalue(site)
    ids: dict[Path, set[str]] = {}
    broken = []
    for page in root.rglob("*.html"):
        links = _Tags()
        links.feed(page.read_text(encoding="utf-8"))
        for link in links.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("mailto:", "javascript:")):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if not target.exists():
                broken.append(f"{page.relative_to(root)}: {link}")
                continue
            if parts.fragment and target.suffix == ".html":
                if target not in ids:
                    found = _Tags()
                    found.feed(target.read_text(encoding="utf-8"))
                    ids[target] = found.ids
                if unquote(parts.fragment) not in ids[target]:
                    broken.append(f"{page.relative_to(root)}: {link} (no such anchor)")
    assert not broken, broken[:20]


def test_pages_load_in_chromium(
    kb_site: Path, report_site: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Chromium is missing: apt-get install chromium (setup.sh installs it)"
    shots = tmp_path_factory.mktemp("screenshots")
    with _served(kb_site) as kb_url, _served(report_site) as report_url:
        index = _dom(chromium, f"{kb_url}/index.html")
        assert "Knowledge base" in index and 'class="sidebar-tree"' in index
        dom = _dom(chromium, f"{report_url}/diagnoses/0001.html")
        assert _evidence_rows(dom), "the diagnosis page shows no evidence table"
        for name, url, size in [
            ("report-diagnosis-laptop", f"{report_url}/diagnoses/0001.html", "1366,900"),
            ("report-diagnosis-phone", f"{report_url}/diagnoses/0001.html", "390,844"),
            ("kb-condition-laptop", f"{kb_url}/kb/icmp.unreachable.port.html", "1366,900"),
            ("kb-condition-phone", f"{kb_url}/kb/icmp.unreachable.port.html", "390,844"),
        ]:
            shot = shots / f"{name}.png"
            _chromium(chromium, f"--screenshot={shot}", f"--window-size={size}", url)
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5000
    print(f"screenshots: {shots}")


# --- helpers -------------------------------------------------------------------------------


class _Tags(HTMLParser):
    """Collects tag names, attribute values, link targets, ids and script tags of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.names: set[str] = set()
        self.attributes: list[str] = []
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.scripts: set[str] = set()
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.add(tag)
        values = dict(attrs)
        self.attributes += [value for value in values.values() if value]
        if values.get("id"):
            self.ids.add(values["id"] or "")
        for attribute in ("href", "src"):
            if values.get(attribute) and tag in ("a", "link", "script", "img"):
                self.links.append(values[attribute] or "")
        if tag == "script":
            self._in_script = True
            self.scripts.add(re.sub(r"\?v=\w+", "", f"src={values.get('src')}").replace(
                "../", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.scripts.add(f"inline:{data.strip()}")


def _scripts(site: Path) -> set[str]:
    found: set[str] = set()
    for page in site.rglob("*.html"):
        tags = _Tags()
        tags.feed(page.read_text(encoding="utf-8"))
        found |= tags.scripts
    return found


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _text(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return "".join(parser.parts)


def _evidence_rows(page: str) -> list[list[str]]:
    """The body rows of the page's evidence table, as cell texts."""
    match = re.search(r'<table class="[^"]*\bevidence\b[^"]*".*?</table>', page, re.S)
    if not match:
        return []
    body = match[0].split("<tbody>", 1)[-1]
    return [[_text(cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


@contextlib.contextmanager
def _served(directory: Path) -> Iterator[str]:
    """An HTTP server on localhost for one directory, in a thread, for the `with` block."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def _chromium(chromium: str, *arguments: str) -> str:
    with tempfile.TemporaryDirectory(prefix="netwhy-chromium-") as profile:
        done = subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *arguments],
            capture_output=True, text=True, timeout=120,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _dom(chromium: str, url: str) -> str:
    return _chromium(chromium, "--dump-dom", url)
