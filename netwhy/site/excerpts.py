"""Real evidence for every knowledge-base page: each condition's lab capture, analysed by netwhy,
and the tshark lines of the frames its diagnosis rests on.

Captures are analysed in parallel by worker processes (`python -m netwhy.site.excerpts`, jobs
as JSON on stdin): most of the time is tshark starting up, durable-rules keeps one engine per
process so threads would not help, and a plain child process neither inherits the caller's
state (as fork would) nor re-runs the caller's main script (as multiprocessing's spawn does).

Results are cached in a JSON file keyed by everything they depend on: the capture's bytes, the
source of netwhy itself (code and knowledge base), tshark's version and the versions of the
libraries in the pipeline. Any change to any of them analyses the capture again.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from netwhy import children

FRAMES_SHOWN = 10
TIMEOUT_S = 600


@dataclass(frozen=True)
class Excerpt:
    """What one condition's scenario capture shows. Every string came from the capture."""

    condition: str
    capture: str  # file name, relative to the captures folder
    summary: str = ""
    evidence: tuple[int, ...] = ()
    lines: tuple[str, ...] = ()
    problem: str = ""  # set when there is no excerpt, and why
    ladder: dict | None = None  # netwhy.render.ladder.Ladder.to_dict() of the evidence


def excerpts(
    wanted: dict[str, str], captures: Path, cache: Path | None = None,
    workers: int | None = None,
) -> dict[str, Excerpt]:
    """Excerpts for {condition id: scenario}, each from captures/<scenario>.pcapng."""
    by_capture: dict[str, list[str]] = {}
    for condition, scenario in sorted(wanted.items()):
        by_capture.setdefault(f"{scenario}.pcapng", []).append(condition)
    jobs = [(str(captures / name), name, ids) for name, ids in by_capture.items()]
    stored = _load(cache) if cache is not None else {}
    fingerprint = _fingerprint() if cache is not None else ""
    keys = {job[1]: _key(job, fingerprint) for job in jobs}
    found = {e["condition"]: _excerpt(e) for job in jobs for e in stored.get(keys[job[1]], [])}
    missing = [job for job in jobs if keys[job[1]] not in stored]
    fresh = _analysed(missing, workers)
    found.update(fresh)
    if cache is not None and missing:
        for job in missing:
            if all(not fresh[c].problem for c in job[2] if c in fresh):
                stored[keys[job[1]]] = [asdict(fresh[c]) for c in job[2] if c in fresh]
        _save(cache, {keys[job[1]]: stored[keys[job[1]]] for job in jobs
                      if keys[job[1]] in stored})
    return found


def _analysed(jobs: list[tuple[str, str, list[str]]], workers: int | None) -> dict[str, Excerpt]:
    if not jobs:
        return {}
    workers = workers or min(len(jobs), max(2, os.cpu_count() or 1))
    shares = [jobs[index::workers] for index in range(workers)]
    found: dict[str, Excerpt] = {}
    with ThreadPoolExecutor(workers) as pool:
        for result in pool.map(_in_worker, shares):
            found.update({excerpt.condition: excerpt for excerpt in result})
    return found


def _in_worker(jobs: list[tuple[str, str, list[str]]]) -> list[Excerpt]:
    done = children.run(
        [sys.executable, "-m", "netwhy.site.excerpts"], input=json.dumps(jobs),
        capture_output=True, text=True, timeout=TIMEOUT_S,
    )
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return [Excerpt(c, name, problem=f"analysing {name} failed: {why}")
                for _, name, conditions in jobs for c in conditions]
    return [_excerpt(item) for item in json.loads(done.stdout)]


def _key(job: tuple[str, str, list[str]], fingerprint: str) -> str:
    path, name, conditions = job
    digest = hashlib.sha256(f"{fingerprint} {name} {conditions} {FRAMES_SHOWN}".encode())
    try:
        digest.update(Path(path).read_bytes())
    except OSError:
        digest.update(b"missing")
    return digest.hexdigest()


def _fingerprint() -> str:
    """What an analysis depends on besides the capture: netwhy's code and knowledge base,
    tshark's version, and the versions of pyshark and durable-rules."""
    from importlib import metadata

    import netwhy
    import netwhy.dissect
    import netwhy.expert
    import netwhy.kb
    from netwhy.dissect.tshark import tshark_path_and_version

    digest = hashlib.sha256()
    for package in (netwhy, netwhy.dissect, netwhy.expert, netwhy.kb):
        root = Path(package.__file__).parent
        for path in sorted(root.rglob("*")):
            if path.suffix in (".py", ".yaml", ".json") and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    try:
        digest.update(str(tshark_path_and_version()[1]).encode())
    except Exception:  # no tshark: the analysis will say so, and nothing gets cached
        digest.update(b"no tshark")
    for library in ("pyshark", "durable-rules"):
        digest.update(metadata.version(library).encode())
    return digest.hexdigest()


def _load(cache: Path) -> dict[str, list[dict]]:
    try:
        stored = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # absent or damaged: analyse again
    return stored if isinstance(stored, dict) else {}


def _save(cache: Path, stored: dict[str, list[dict]]) -> None:
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        temporary = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(stored, indent=1), encoding="utf-8")
        os.replace(temporary, cache)
    except OSError:
        pass  # a cache that cannot be written only costs time


def _excerpt(item: dict) -> Excerpt:
    return Excerpt(**{**item, "evidence": tuple(item["evidence"]), "lines": tuple(item["lines"])})


def _capture_excerpts(job: tuple[str, str, list[str]]) -> list[Excerpt]:
    path, name, conditions = job
    from netwhy.dissect.tshark import tshark_path_and_version
    from netwhy.errors import NetwhyError
    from netwhy.expert.analyze import analyze
    from netwhy.render.ladder import frames_wanted as ladder_frames
    from netwhy.render.ladder import ladder
    from netwhy.site.frames import frame_rows

    if not Path(path).is_file():
        return [Excerpt(c, name, problem=f"capture {name} is missing") for c in conditions]
    try:
        report = analyze(path)
        tshark, version = tshark_path_and_version()
        found = {d.condition: d for d in reversed(report.diagnoses)}  # best one wins
        frames = _shown(found[c].evidence for c in conditions if c in found)
        frames |= {n for c in conditions if c in found for n in ladder_frames(found[c])}
        rows = frame_rows(Path(path), frames, tshark, version)
    except NetwhyError as error:
        return [Excerpt(c, name, problem=f"{name}: {error.message}") for c in conditions]
    out = []
    for condition in conditions:
        diagnosis = found.get(condition)
        if diagnosis is None:
            out.append(Excerpt(condition, name, problem=f"{name} shows no {condition}"))
            continue
        shown = diagnosis.evidence[:FRAMES_SHOWN]
        drawn = ladder(diagnosis, rows)
        out.append(Excerpt(
            condition, name, summary=diagnosis.summary, evidence=diagnosis.evidence,
            lines=tuple(rows[n].line() for n in shown if n in rows),
            ladder=drawn.to_dict() if drawn is not None else None,
        ))
    return out


def _shown(evidence: Iterable[tuple[int, ...]]) -> set[int]:
    return {frame for frames in evidence for frame in frames[:FRAMES_SHOWN]}


def main() -> None:
    jobs = json.load(sys.stdin)
    found = [excerpt for job in jobs for excerpt in _capture_excerpts(tuple(job))]
    json.dump([asdict(excerpt) for excerpt in found], sys.stdout)


if __name__ == "__main__":
    main()
