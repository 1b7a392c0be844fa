"""A copy of the capture with netwhy's findings as packet comments, for Wireshark.

editcap does the writing: it streams the file, keeps every packet, timestamp, interface and
existing comment, and adds ours. One editcap run adds one comment per frame (a second `-a` for
the same frame replaces the first), so frames with several diagnoses take several passes.
The input is never opened for writing; the output appears only when complete.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from netwhy import __version__
from netwhy.errors import OutputFailed, TsharkMissing
from netwhy.expert.analyze import Report
from netwhy.expert.diagnosis import Diagnosis
from netwhy.render.text import printable

MAX_COMMENTS_PER_RUN = 2000  # keeps editcap's command line far below the kernel's ARG_MAX


@dataclass(frozen=True)
class Annotation:
    output: Path
    comments: int
    frames: int


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
    _refuse_overwriting_input(capture, output)
    per_frame: dict[int, list[str]] = {}
    for diagnosis in report.diagnoses:
        comment = packet_comment(diagnosis)
        for frame in diagnosis.evidence:
            per_frame.setdefault(frame, []).append(comment)
    passes = _passes(per_frame)
    temporary: list[Path] = []
    try:
        source = capture
        for index, comments in enumerate(passes or [{}]):
            target = _temporary_beside(output)
            temporary.append(target)
            extra = ["--capture-comment", capture_comment(report)] if index == 0 else []
            _run_editcap(editcap, source, target, comments, extra)
            source = target
        source.chmod(0o666 & ~_umask())  # mkstemp's 0600 is for the temporary file only
        os.replace(source, output)
        temporary.remove(source)
    finally:
        for leftover in temporary:  # on failure or Ctrl-C, no partial file stays behind
            leftover.unlink(missing_ok=True)
    return Annotation(output, sum(len(c) for c in per_frame.values()), len(per_frame))


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


def _passes(per_frame: dict[int, list[str]]) -> list[dict[int, str]]:
    """Split comments into editcap runs: at most one comment per frame per run."""
    passes: list[dict[int, str]] = []
    layers = max((len(comments) for comments in per_frame.values()), default=0)
    for layer in range(layers):
        current: dict[int, str] = {}
        for frame in sorted(per_frame):
            if layer < len(per_frame[frame]):
                if len(current) == MAX_COMMENTS_PER_RUN:
                    passes.append(current)
                    current = {}
                current[frame] = per_frame[frame][layer]
        passes.append(current)
    return passes


def _temporary_beside(output: Path) -> Path:
    # Same directory as the output, so the final rename is atomic.
    try:
        handle, name = tempfile.mkstemp(
            dir=output.parent, prefix=f".{output.name}.", suffix=".tmp")
    except OSError as error:
        raise OutputFailed(f"{output}: cannot write there: {error.strerror}") from error
    os.close(handle)
    return Path(name)


def _run_editcap(
    editcap: str, source: Path, target: Path, comments: dict[int, str], extra: list[str]
) -> None:
    arguments = [editcap, "-F", "pcapng", *extra]
    for frame, comment in comments.items():
        arguments += ["-a", f"{frame}:{comment}"]
    arguments += ["--", str(source), str(target)]
    try:
        done = subprocess.run(arguments, capture_output=True, text=True, errors="replace")
    except OSError as error:
        raise OutputFailed(f"cannot run editcap: {error.strerror}") from error
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        raise OutputFailed(f"editcap could not write {target.name}: {detail[0]}")
