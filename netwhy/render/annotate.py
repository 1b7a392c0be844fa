"""A copy of the capture with netwhy's findings as packet comments, for Wireshark.

editcap turns the capture into pcapng (whatever its format, keeping every packet, timestamp,
interface and existing comment); netwhy then adds its comments to that copy itself
(`pcapng_comments`: editcap's own `-a` replaces a frame's comments on some versions). The input is
never opened for writing; the output appears only when complete.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from netwhy import __version__, children
from netwhy.errors import DamagedCapture, OutputFailed, TsharkMissing
from netwhy.expert.diagnosis import Diagnosis
from netwhy.expert.report import Report
from netwhy.render.pcapng_comments import MalformedPcapng, add_comments
from netwhy.text import printable


@dataclass(frozen=True)
class Annotation:
    output: Path
    comments: int
    frames: int
    unplaced: int  # comments for frames whose block cannot hold one (pcapng simple packets)


def packet_comment(diagnosis: Diagnosis) -> str:
    top = diagnosis.causes[0] if diagnosis.causes else None
    likely = f" | likely: {top.text} ({top.score:.0%})" if top else ""
    return printable(
        f"netwhy {diagnosis.condition} [{diagnosis.severity}]: {diagnosis.summary}{likely}"
    )


def capture_comment(report: Report) -> str:
    counts = Counter(d.severity for d in report.diagnoses)
    shown = ", ".join(f"{n} {severity}" for severity, n in counts.items()) or "no findings"
    text = f"netwhy {__version__}: {len(report.diagnoses)} diagnoses ({shown})"
    if report.diagnoses:
        best = report.diagnoses[0]
        text += f". Top: {best.condition}: {best.summary}"
    if report.truncated:
        text += f". The capture is damaged ({report.truncated}); analysed up to the damage"
    return printable(text)


def annotate(report: Report, capture: Path, output: Path, editcap: str) -> Annotation:
    """Write the annotated copy; raise OutputFailed if it cannot be written, DamagedCapture if
    the capture is too damaged for editcap to copy any of it."""
    _refuse_overwriting_input(capture, output)
    per_frame: dict[int, list[str]] = {}
    for diagnosis in report.diagnoses:
        comment = packet_comment(diagnosis)
        for frame in diagnosis.evidence:
            per_frame.setdefault(frame, []).append(comment)
    converted = _temporary_beside(output)
    annotated = _temporary_beside(output)
    try:
        _run_editcap(editcap, capture, converted, output, report.truncated)
        try:
            with open(converted, "rb") as source, open(annotated, "wb") as target:
                written = add_comments(source, target, per_frame, capture_comment(report))
        except MalformedPcapng as error:
            raise OutputFailed(f"editcap wrote a pcapng netwhy cannot read: {error}") from error
        except OSError as error:
            raise OutputFailed(f"{output}: cannot write there: {error.strerror}") from error
        annotated.chmod(0o666 & ~_umask())  # mkstemp's 0600 is for the temporary file only
        _refuse_overwriting_input(capture, output)  # again: it may have appeared meanwhile
        os.replace(annotated, output)
    finally:  # on failure or Ctrl-C, no partial file stays behind
        converted.unlink(missing_ok=True)
        annotated.unlink(missing_ok=True)
    return Annotation(output, written.comments, len(per_frame), written.unplaced)


def find_editcap(tshark: str) -> str:
    """editcap ships with tshark; prefer the one installed beside it."""
    beside = Path(tshark).with_name("editcap")
    found = str(beside) if beside.exists() else shutil.which("editcap")
    if found is None:
        raise TsharkMissing("editcap not found: it comes with tshark (apt-get install tshark)")
    return found


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _refuse_overwriting_input(capture: Path, output: Path) -> None:
    same = output.exists() and os.path.samefile(capture, output)
    if same or output.resolve() == capture.resolve():
        raise OutputFailed(f"{output}: is the input capture; netwhy never overwrites its input")
    if output.is_dir():
        raise OutputFailed(f"{output}: is a directory")
    # The copy replaces the output by a rename: a device or FIFO would become a plain file.
    if output.exists() and not output.is_file():
        raise OutputFailed(f"{output}: is a device, pipe or socket, not a file netwhy may replace")


def _temporary_beside(output: Path) -> Path:
    # Same directory as the output, so the final rename is atomic.
    try:
        handle, name = tempfile.mkstemp(
            dir=output.parent, prefix=f".{output.name}.", suffix=".tmp")
    except OSError as error:
        raise OutputFailed(f"{output}: cannot write there: {error.strerror}") from error
    os.close(handle)
    return Path(name)


def _run_editcap(editcap: str, source: Path, target: Path, output: Path,
                 damage: str | None) -> None:
    arguments = [editcap, "-F", "pcapng", "--", str(source), str(target)]
    try:
        done = children.run(arguments, capture_output=True, text=True, errors="replace")
    except OSError as error:
        raise OutputFailed(f"cannot run editcap: {error.strerror}") from error
    if done.returncode == 0:
        return
    if damage is not None:  # editcap stops at the damage that the analysis also met
        raise DamagedCapture(f"{source}: {damage}; editcap cannot copy it, so no annotated "
                             "copy was written")
    detail = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
    # Name the output the user asked for, not the temporary file beside it.
    said = detail[0].replace(str(target), str(output)).replace(target.name, output.name)
    raise OutputFailed(f"editcap could not write {output}: {said}")
