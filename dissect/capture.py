"""Reading a saved capture into facts, streaming, in one tshark pass."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from netwhy.dissect.arp import arp_from_row
from netwhy.dissect.facts import CaptureSummary, Fact
from netwhy.dissect.fields import COLUMN, FIELDS
from netwhy.dissect.icmp import icmp_from_row
from netwhy.dissect.tcp import tcp_from_row
from netwhy.dissect.tshark import FieldsCapture, tshark_path_and_version
from netwhy.dissect.udp import udp_conversation_from_line, udp_first_from_row
from pyshark.capture.capture import TSharkCrashException

from netwhy.errors import EmptyCapture, NotACapture, TsharkFailed, UnreadableInput

# First bytes of the formats netwhy accepts: pcap (both byte orders, micro- and nanosecond),
# pcapng, and either of them gzip-compressed (tshark reads those directly).
_MAGICS = (
    b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d",
    b"\x0a\x0d\x0d\x0a", b"\x1f\x8b",
)
# What tshark says about a file it reads only in part ("The file "NAME" appears to have been cut
# short...", "...cannot be decompressed; it may be damaged or corrupt", "...contains record data
# that TShark doesn't support"), and about one it cannot read at all.
_DAMAGE = ("cut short", "damaged or corrupt", "not a record", "record length", "doesn't support")
_UNKNOWN_FORMAT = "isn't a capture file in a format"
# 'The file "NAME" ': up to the last quote before tshark's verb, which also drops the tail of a
# name that held a newline (and so reached us on a line of its own).
_FILE_NAME = re.compile(r"^.*\" (?=(?:appears|cannot|contains|isn't) )")
_TOP_PROTOCOL = re.compile(r"^\S+\s+frames:(\d+) bytes:\d+")  # io,phs, no indent


def check_capture_file(path: Path) -> None:
    """Refuse, with a one-line reason, anything tshark should not be handed."""
    try:
        # Opening a FIFO would wait for a writer forever; a device or socket is no capture file.
        if path.exists() and not (path.is_file() or path.is_dir()):
            raise UnreadableInput(f"{path}: not a regular file (a pipe, device or socket)")
        with open(path, "rb") as handle:
            head = handle.read(4)
    except IsADirectoryError as error:
        raise UnreadableInput(f"{path}: is a directory, not a capture file") from error
    except FileNotFoundError as error:
        raise UnreadableInput(f"{path}: no such file") from error
    except OSError as error:
        raise UnreadableInput(f"{path}: cannot read: {error.strerror}") from error
    if not head:
        raise NotACapture(f"{path}: empty file (0 bytes), not a capture")
    if not head.startswith(_MAGICS):
        raise NotACapture(f"{path}: not a pcap or pcapng capture")


class CaptureReader:
    """Checks the file and tshark at once; iterate `facts()` once, and `summary` is filled in
    when the iteration ends."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.summary: CaptureSummary | None = None
        check_capture_file(self.path)
        self._tshark, self._version = tshark_path_and_version()

    def facts(self) -> Iterator[Fact]:
        capture = FieldsCapture(self.path, self._tshark, self._version)
        packets = 0
        width = len(FIELDS)
        frame_column, time_column = COLUMN["frame.number"], COLUMN["frame.time_relative"]
        try:
            for batch in capture.batches():
                for line in batch:
                    row = line.split("\t")
                    if len(row) != width:
                        fact = udp_conversation_from_line(line)
                        if fact is not None:
                            yield fact
                        elif top := _TOP_PROTOCOL.match(line):
                            packets += int(top[1])
                        continue
                    fact = _fact_from_row(row, int(row[frame_column]), float(row[time_column]))
                    if fact is not None:
                        yield fact
        except TSharkCrashException as error:
            raise TsharkFailed(f"tshark failed on {self.path}: {error}") from error
        finally:
            capture.close()
        self.summary = _summary(capture, packets, str(self._version), self.path)


def _fact_from_row(row: list[str], frame: int, time: float) -> Fact | None:
    if row[COLUMN["arp.opcode"]]:
        return arp_from_row(row, frame, time)
    if row[COLUMN["icmp.type"]]:
        return icmp_from_row(row, frame, time)
    if row[COLUMN["tcp.flags"]]:
        return tcp_from_row(row, frame, time)
    if row[COLUMN["udp.srcport"]]:
        return udp_first_from_row(row, frame, time)
    return None


def _summary(capture: FieldsCapture, packets: int, version: str, path: Path) -> CaptureSummary:
    errors = list(capture.stderr_lines)
    problem = _file_problem(errors)
    code = capture.returncode
    # A signal means tshark crashed or was killed: even a complete-looking output may lack its
    # end. A file tshark cannot read makes it exit with a status, and says why.
    if code is not None and (code < 0 or (code > 0 and problem is None)):
        detail = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
        if errors:
            detail += f" ({errors[-1]})"
        raise TsharkFailed(f"tshark failed on {path}: {detail}")
    if problem is not None and _unreadable(problem, packets):
        raise NotACapture(f"{path}: not a capture tshark can read: {problem}")
    if packets == 0 and problem is None:
        raise EmptyCapture(f"{path}: capture holds no packets")
    return CaptureSummary(packets=packets, tshark_version=version, truncated=problem)


def _unreadable(problem: str, packets: int) -> bool:
    """Not a format tshark knows, or records it cannot read from the very first one."""
    return _UNKNOWN_FORMAT in problem or (packets == 0 and "doesn't support" in problem)


def _file_problem(errors: list[str]) -> str | None:
    """tshark's words about the file, without its name, with the detail line that follows."""
    for index, line in enumerate(errors):
        if _UNKNOWN_FORMAT in line or any(word in line for word in _DAMAGE):
            found = _FILE_NAME.sub("", line.removeprefix("tshark: ")).strip()
            following = errors[index + 1] if index + 1 < len(errors) else ""
            return f"{found} {following}" if following.startswith("(") else found
    return None
