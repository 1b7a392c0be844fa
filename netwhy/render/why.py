"""`netwhy why`: each conversation to a target, whether it failed, and for each failure the
competing explanations with the evidence for and against each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TextIO

from netwhy.expert.diagnosis import Diagnosis
from netwhy.expert.report import Conversation
from netwhy.text import printable

HYPOTHESES_SHOWN = 4


def write(capture: str, target: str, found: list[Conversation], out: TextIO,
          explain_score: bool = False, notes: Sequence[str] = (),
          ladders: Mapping[int, Sequence[str]] | None = None) -> None:
    """`notes`: the report's, which say what netwhy did not analyse or track. `ladders`: by
    id() of a conversation, its best explanation's evidence as a text ladder (ladder_text)."""
    failed = [v for v in found if v.failed]
    scope = f"to {printable(target)}" if target else "in the capture"
    out.write(f"{printable(capture)}: {len(found)} conversation(s) {scope}, "
              f"{len(failed)} failed\n")
    for note in notes:
        out.write(f"NOTE: {printable(note)}\n")
    if not found and notes:
        out.write("\nNo conversation matches in what netwhy analysed; the notes say what it "
                  "left out.\n")
    elif not found:
        out.write("\nNo conversation matches. Check the address and port, or give a display "
                  "filter as the target.\n")
    for conversation in found:
        out.write("\n")
        _conversation(out, conversation, explain_score, (ladders or {}).get(id(conversation)))


def _conversation(out: TextIO, v: Conversation, explain_score: bool,
                  ladder: Sequence[str] | None) -> None:
    verdict = v.outcome.upper() if v.failed else v.outcome
    frames = f"frames {v.frames[0]}-{v.frames[-1]}" if v.frames else "no frames kept"
    out.write(f"{printable(v.subject.describe())}: {verdict} "
              f"({v.attempts} attempt(s), {v.replies} repl{'y' if v.replies == 1 else 'ies'}, "
              f"{frames})\n")
    scan = next((d for d in v.diagnoses if d.condition.startswith("scan.")), None)
    if scan is not None:  # a probe, not a client's failure: say so before anything else
        out.write(f"  part of a scan by {printable(scan.subject.src)} ({scan.condition})\n")
    if not v.failed:
        return
    if not v.diagnoses:
        out.write("  no explanation found in this capture\n")
    if ladder:  # already escaped and cut to the terminal's width
        out.write("  the evidence of explanation 1, frame by frame:\n")
        out.writelines(f"  {line}\n" for line in ladder)
    for rank, diagnosis in enumerate(v.diagnoses, start=1):
        _hypotheses(out, rank, diagnosis, explain_score)


def _hypotheses(out: TextIO, rank: int, d: Diagnosis, explain_score: bool) -> None:
    out.write(f"  {rank}. {d.condition} [{d.severity}, score {d.score:.2f}]: "
              f"{printable(d.summary)}\n")
    out.write(f"     evidence frames: {', '.join(map(str, d.evidence[:20]))}"
              f"{' ...' if len(d.evidence) > 20 else ''}\n")
    if explain_score:
        for term in d.terms:
            out.write(f"     {term.value:+.2f} {term.name}: {printable(term.reason)}\n")
    out.write("     explanations, likeliest first:\n")
    for cause in d.causes[:HYPOTHESES_SHOWN]:
        out.write(f"      {cause.score:4.0%}  {printable(cause.text)}  (prior {cause.prior:.0%})\n")
        for term in cause.terms:
            side = "for" if term.value > 1 else "against"
            out.write(f"             {side}: {printable(term.reason)} (x{term.value:g})\n")
    top = d.causes[0] if d.causes else None
    if top is not None:
        for check in top.checks:
            out.write(f"     check: {printable(check)}\n")
    if d.remedies:
        out.write(f"     fix: {printable(d.remedies[0])}\n")
