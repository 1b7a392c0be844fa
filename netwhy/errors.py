"""Every way netwhy can refuse or fail, each with its own exit status.

The exit statuses are public (README, --help): scripts branch on them.
"""

from __future__ import annotations

from enum import IntEnum

from netwhy.text import printable


class ExitCode(IntEnum):
    OK = 0  # analysis completed, whatever it found
    FINDINGS = 1  # only with --fail-on: a finding at or above the given severity
    USAGE = 2  # bad command line (argparse's own status)
    UNREADABLE = 3  # input missing, a pipe or device, not readable; an interface down or absent
    NOT_A_CAPTURE = 4  # not pcap/pcapng, a 0-byte file, or a header tshark refuses
    EMPTY = 5  # a valid capture with no packets
    TRUNCATED = 6  # cut short or damaged: analysed up to the damage, report says so
    TSHARK_MISSING = 7  # tshark not installed, or older than netwhy supports
    TSHARK_FAILED = 8  # tshark crashed or was killed; no report is presented as complete
    NO_PERMISSION = 9  # not allowed to capture live traffic
    OUTPUT_FAILED = 10  # an output file could not be written
    KB_INVALID = 11  # a knowledge-base file breaks the schema (a broken installation)
    # Stopped by a signal: 128 + its number, as a shell reports it (netwhy.lifetime).
    HANGUP = 129  # SIGHUP: the terminal went away
    INTERRUPTED = 130  # SIGINT: Ctrl-C
    TERMINATED = 143  # SIGTERM


class NetwhyError(Exception):
    """An error the user can act on: one line, no traceback."""

    exit_code = ExitCode.TSHARK_FAILED

    def __init__(self, message: str):
        # Messages quote file names and tshark's words: one line, and nothing in them can
        # steer the terminal or fail to encode on its way to stderr.
        message = printable(" ".join(message.split()))
        super().__init__(message)
        self.message = message


class BadTarget(NetwhyError):
    """A target or filter from the command line that netwhy or tshark refuses (a `why` target
    that is neither an address nor a display filter, a capture filter that does not compile)."""

    exit_code = ExitCode.USAGE


class UnreadableInput(NetwhyError):
    exit_code = ExitCode.UNREADABLE


class NotACapture(NetwhyError):
    exit_code = ExitCode.NOT_A_CAPTURE


class EmptyCapture(NetwhyError):
    exit_code = ExitCode.EMPTY


class DamagedCapture(NetwhyError):
    """A capture damaged where nothing past the damage can be read or copied (its header)."""

    exit_code = ExitCode.TRUNCATED


class TsharkMissing(NetwhyError):
    exit_code = ExitCode.TSHARK_MISSING


class TsharkFailed(NetwhyError):
    exit_code = ExitCode.TSHARK_FAILED


class NoPermission(NetwhyError):
    exit_code = ExitCode.NO_PERMISSION


class OutputFailed(NetwhyError):
    exit_code = ExitCode.OUTPUT_FAILED


class KnowledgeBaseError(NetwhyError):
    """A knowledge-base file that does not match the schema: a bug in the installation."""

    exit_code = ExitCode.KB_INVALID
