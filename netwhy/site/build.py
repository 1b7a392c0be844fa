"""Running Sphinx: strict (a warning fails the build), quiet, into a temporary directory that
replaces the output directory only once the site is complete."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path

from netwhy.errors import OutputFailed, UnreadableInput

MARKER = ".netwhy-site"  # marks a directory netwhy built, which a later build may replace


def docs_source() -> Path:
    """The documentation's Sphinx project: docs/ in the checkout netwhy runs from."""
    import netwhy

    source = Path(netwhy.__file__).resolve().parent.parent / "docs"
    if not (source / "conf.py").is_file():
        raise UnreadableInput(f"{source}: no Sphinx project there; `netwhy docs build` needs "
                              "a source checkout of netwhy (its docs/ folder)")
    return source


def write_pages(srcdir: Path, pages: dict[str, str], owned: str) -> None:
    """Write {document name: reST} under srcdir; files under `owned` that are no longer
    generated go. Unchanged files are left alone, so Sphinx rebuilds only what changed."""
    for name, content in pages.items():
        path = srcdir / f"{name}.rst"
        if path.exists() and path.read_text(encoding="utf-8") == content:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_text(content, encoding="utf-8")
        os.replace(temporary, path)  # two builds at once never see a half-written page
    wanted = {srcdir / f"{name}.rst" for name in pages}
    for stale in (srcdir / owned).rglob("*.rst"):
        if stale not in wanted:
            stale.unlink()


def build_site(srcdir: Path, outdir: Path, confdir: Path | None = None) -> None:
    """Build srcdir as HTML into outdir (replacing an earlier netwhy site there), or raise
    OutputFailed with Sphinx's first warning."""
    from sphinx.application import Sphinx
    from sphinx.util.console import nocolor

    nocolor()  # warnings become one plain line of an error message

    staging = _staging_beside(outdir)
    doctrees = Path(tempfile.mkdtemp(prefix="netwhy-doctrees-"))
    warnings = io.StringIO()
    try:
        # Parallel: reading and writing pages takes most of a report's time (Sphinx forks;
        # the warnings of every worker still come back here).
        app = Sphinx(srcdir, confdir if confdir is not None else srcdir, staging, doctrees,
                     "html", status=None, warning=warnings, freshenv=True,
                     warningiserror=True, parallel=os.cpu_count() or 1)
        app.build()
        problems = [line for line in warnings.getvalue().splitlines() if line.strip()]
        if app.statuscode != 0 or problems:
            more = f" (and {len(problems) - 1} more warnings)" if len(problems) > 1 else ""
            first = (problems or ["Sphinx failed"])[0]
            raise OutputFailed(f"the site did not build: {first}{more}")
        (staging / MARKER).write_text("built by netwhy; a later build may replace it\n")
        _move_into_place(staging, outdir)
    except Exception as error:
        if isinstance(error, OutputFailed):
            raise
        raise OutputFailed(f"the site did not build: {error}") from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(doctrees, ignore_errors=True)


def _staging_beside(outdir: Path) -> Path:
    refuse_foreign(outdir)
    try:
        outdir.parent.mkdir(parents=True, exist_ok=True)
        # Beside the output, so the final rename stays on one file system.
        return Path(tempfile.mkdtemp(dir=outdir.parent, prefix=f".{outdir.name}.", suffix=".tmp"))
    except OSError as error:
        raise OutputFailed(f"{outdir}: cannot write there: {error.strerror}") from error


def refuse_foreign(outdir: Path) -> None:
    """Replace only an empty directory or an earlier netwhy site: never someone's files."""
    if outdir.is_symlink() or (outdir.exists() and not outdir.is_dir()):
        raise OutputFailed(f"{outdir}: exists and is not a directory")
    if outdir.is_dir() and any(outdir.iterdir()) and not (outdir / MARKER).exists():
        raise OutputFailed(f"{outdir}: is not empty and was not built by netwhy; "
                           "choose a new or empty directory")


def _move_into_place(staging: Path, outdir: Path) -> None:
    refuse_foreign(outdir)  # again: something may have appeared there during the build
    old = None
    if outdir.exists():
        old = outdir.with_name(f".{outdir.name}.{os.getpid()}.old")
        os.replace(outdir, old)
    try:
        os.replace(staging, outdir)
    except OSError as error:
        if old is not None:
            os.replace(old, outdir)
        raise OutputFailed(f"{outdir}: cannot write there: {error.strerror}") from error
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    os.chmod(outdir, 0o777 & ~_umask())  # mkdtemp's 0700 is for the staging directory only


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
