"""Run the installed `netwhy` on one input, under a time limit, and judge what it did.

The contract (README, "Exit status"): every run ends with a documented exit status; a refusal
is exactly one line on stderr starting with `netwhy: ` and nothing on stdout; a report (status 0,
or 6 for a damaged capture) is printed whole, as valid UTF-8 without terminal control
characters (or as JSON when asked); nothing ever prints a traceback; the input is not changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from netwhy.errors import ExitCode

NETWHY = Path(sys.executable).parent / "netwhy"
REPORTED = (ExitCode.OK, ExitCode.TRUNCATED)
# C0 controls but newline, DEL and C1: what could steer a terminal.
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
# A terminal that refuses what is not UTF-8, as most desktop terminals' locales make Python do.
STRICT_UTF8 = {"PYTHONIOENCODING": "utf-8", "LC_ALL": "C.UTF-8"}
# Runs netwhy in-process, then leaves its own and its children's (tshark's) peak RSS in a file.
_MEASURED = (
    "import os, resource, sys\n"
    "from netwhy.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "peak = [resource.getrusage(who).ru_maxrss for who in "
    "(resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]\n"
    "with open(os.environ['NETWHY_FUZZ_RSS'], 'w') as out:\n"
    "    out.write(' '.join(map(str, peak)))\n"
    "sys.exit(code)\n"
)


@dataclass
class Outcome:
    case: str
    kind: str
    code: int | None  # None: still running at the time limit (a hang)
    seconds: float
    problem: str | None  # why the run broke the contract; None when it kept it
    stderr: str
    rss_mb: tuple[int, int] | None = None  # netwhy's and tshark's peak RSS, when measured


def digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def run_case(
    case: str, kind: str, capture: Path, *options: str, timeout: float = 60.0,
    env: dict[str, str] | None = None, measure: bool = False,
) -> Outcome:
    before = digest(capture) if capture.is_file() else None
    command = [str(NETWHY), "explain", str(capture), *options]
    environment = {**os.environ, **STRICT_UTF8, **(env or {})}
    rss_file = Path(f"/tmp/netwhy-fuzz-rss-{os.getpid()}-{abs(hash(case))}")
    if measure:
        command = [sys.executable, "-c", _MEASURED, *command[1:]]
        environment["NETWHY_FUZZ_RSS"] = str(rss_file)
    started = time.monotonic()
    code, stdout, stderr = _run(command, environment, timeout)
    seconds = time.monotonic() - started
    outcome = Outcome(case, kind, code, seconds, None, stderr.decode("utf-8", "replace"))
    if measure and rss_file.exists():
        own, children = (int(n) // 1024 for n in rss_file.read_text().split())
        outcome.rss_mb = (own, children)
        rss_file.unlink()
    outcome.problem = judge(code, stdout, stderr, json_report="--json" in options)
    if outcome.problem is None and before is not None and digest(capture) != before:
        outcome.problem = "the input file changed"
    return outcome


def _run(
    command: list[str], env: dict[str, str], timeout: float
) -> tuple[int | None, bytes, bytes]:
    """Exit status (None on a hang), stdout and stderr; a hung run is killed with its tshark."""
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                          start_new_session=True) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            return None, stdout, stderr
        return process.returncode, stdout, stderr


def judge(code: int | None, stdout: bytes, stderr: bytes, json_report: bool = False) -> str | None:
    """What is wrong with one run, or None."""
    if code is None:
        return "hang: still running at the time limit"
    if b"Traceback" in stderr:
        return "traceback"
    if code not in {int(c) for c in ExitCode} or code == ExitCode.FINDINGS:
        return f"undocumented exit status {code}"
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    if code in REPORTED:
        return _judge_report(code, stdout, lines, json_report)
    if stdout:
        return "a refusal printed a report"
    if len(lines) != 1 or not lines[0].startswith("netwhy: "):
        return "a refusal that is not one 'netwhy: ' line"
    if CONTROL.search(lines[0]):
        return "a control character in the error line"
    return None


def _judge_report(code: int, stdout: bytes, lines: list[str], json_report: bool) -> str | None:
    if not stdout:
        return "no report"
    try:
        text = stdout.decode("utf-8")
    except UnicodeDecodeError:
        return "the report is not valid UTF-8"
    if CONTROL.search(text.replace("\n", "")):
        return "a control character in the report"
    if json_report:
        try:
            report = json.loads(text)
        except ValueError:
            return "the JSON report does not parse"
        if (report.get("truncated") is not None) != (code == ExitCode.TRUNCATED):
            return "the JSON report and the exit status disagree about damage"
    expected = 1 if code == ExitCode.TRUNCATED else 0
    if len(lines) != expected or any(not line.startswith("netwhy: ") for line in lines):
        return f"{len(lines)} lines on stderr with a report (expected {expected})"
    return None
