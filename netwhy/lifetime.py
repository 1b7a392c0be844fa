"""How a netwhy process ends: on a signal, or with nowhere to write.

- SIGTERM and SIGHUP unwind like Ctrl-C (`Terminated` is a KeyboardInterrupt), so every
  `finally` that removes a temporary file or stops a child runs for them too; the process then
  exits 128 + the signal's number, as a shell reports it (ExitCode.INTERRUPTED, ...).
- Children end with netwhy even after SIGKILL (`children`).
- Standard output that cannot be written (a full disk, /dev/full, a closed descriptor) is an
  OutputFailed (exit 10) with one line on stderr; standard error that cannot be written is
  given up silently, so the exit status still tells what happened.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import sys
from collections.abc import Callable
from types import FrameType

from netwhy import children
from netwhy.errors import OutputFailed

_ENDING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
_received: int | None = None  # the first signal that asked netwhy to stop
_netwhy_pid = 0  # the process that called start()
_REDELIVERY_DELAY_S = 0.01  # an interrupt dropped by Python is raised again this much later


class Terminated(KeyboardInterrupt):
    """A signal asked netwhy to stop: unwound like Ctrl-C, reported with its own status."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def start() -> None:
    """Take over the signals and the standard streams, for the rest of the process (once:
    a second call, from a caller that runs the command line twice, changes nothing)."""
    global _netwhy_pid
    if _netwhy_pid == os.getpid():
        return
    _netwhy_pid = os.getpid()
    signal.signal(signal.SIGINT, _raise_interrupt)
    for signum in _ENDING_SIGNALS:
        signal.signal(signum, _raise_terminated)
    children.bind_forks()
    sys.unraisablehook = _redeliver_interrupts
    sys.stdout = _Stdout(sys.stdout)
    sys.stderr = _Stderr(sys.stderr)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    _note(signum)
    if _received in _ENDING_SIGNALS:  # a SIGTERM or SIGHUP delivered again
        raise Terminated(_received)
    raise KeyboardInterrupt


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    for ending in _ENDING_SIGNALS:  # unwinding must not be cut short by a second signal
        signal.signal(ending, signal.SIG_IGN)
    _note(signum)
    raise Terminated(signum)


def _redeliver_interrupts(unraisable: sys.UnraisableHookArgs) -> None:
    """A signal's exception raised where Python cannot pass it on (an at-fork callback such as
    logging's, a __del__, a weakref callback) would be printed as "Exception ignored" and
    dropped, and netwhy would run on: deliver it again a moment later, in ordinary code."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        # Not raised from here, where it would be dropped again: an alarm, once the hook and
        # the code that called it have returned (_raise_interrupt re-raises what was received).
        signal.signal(signal.SIGALRM, _raise_interrupt)
        signal.setitimer(signal.ITIMER_REAL, _REDELIVERY_DELAY_S)
        return
    sys.__unraisablehook__(unraisable)


def _note(signum: int) -> None:
    global _received
    if os.getpid() != _netwhy_pid:  # a worker forked a moment ago, before bind_forks' reset
        os._exit(128 + signum)
    _received = _received or signum
    # Children first: a `finally` on the way out may wait for one (a pool of workers does).
    children.stop_all()


def received() -> bool:
    """Whether a signal has asked netwhy to stop: then it, not whatever error the unwinding
    raised on its way (a library's cleanup may fail when its workers are gone), is the end."""
    return _received is not None


def interrupted(interrupt: KeyboardInterrupt | None = None) -> int:
    """Say so, and return the exit status, once the interrupt has unwound everything."""
    # What is left of pyshark's event loop would otherwise complain as it is collected:
    # "Task exception was never retrieved" and tracebacks of reads cut short.
    logging.getLogger("asyncio").disabled = True
    sys.unraisablehook = lambda unraisable: None
    signum = getattr(interrupt, "signum", None) or _received or signal.SIGINT
    say("netwhy: interrupted" if signum == signal.SIGINT
        else f"netwhy: stopped by {signal.Signals(signum).name}")
    discard_stdout()  # what a half-written report still buffers is not worth an error
    return 128 + int(signum)


def say(line: str) -> None:
    """One line on stderr, if stderr can take it."""
    print(line, file=sys.stderr)


def flush_stdout() -> None:
    sys.stdout.flush()


def discard_stdout() -> None:
    """From now on, what is written to stdout goes nowhere (nor fails at exit)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.__stdout__.fileno())


class _Standard(io.TextIOBase):
    """A standard stream that may be closed (None) or fail; subclasses say what a failure is."""

    def __init__(self, stream: io.TextIOBase | None):
        self._stream = stream

    def write(self, text: str) -> int:
        self._guarded(lambda stream: stream.write(text))
        return len(text)

    def flush(self) -> None:
        if self._stream is not None:  # closed: nothing was written, nothing is lost
            self._guarded(lambda stream: stream.flush())

    def isatty(self) -> bool:
        return self._stream is not None and self._stream.isatty()

    def fileno(self) -> int:
        if self._stream is None:
            raise self._closed()
        return self._stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._stream, "encoding", "utf-8")

    def _guarded(self, act: Callable[[io.TextIOBase], object]) -> None:
        if self._stream is None:
            self._write_closed()
            return
        try:
            act(self._stream)
        except BrokenPipeError:
            raise  # a reader gone: netwhy stops quietly (cli.main)
        except (OSError, ValueError) as error:  # ValueError: a stream closed under us
            self._failed(error)

    def _closed(self) -> Exception:
        raise NotImplementedError

    def _write_closed(self) -> None:
        raise self._closed()

    def _failed(self, error: Exception) -> None:
        raise NotImplementedError


class _Stdout(_Standard):
    """Standard output, whose write errors are OutputFailed."""

    def _closed(self) -> Exception:
        return OutputFailed("standard output is closed: nowhere to write the output")

    def _failed(self, error: Exception) -> None:
        discard_stdout()
        reason = getattr(error, "strerror", None) or str(error)
        raise OutputFailed(f"cannot write to standard output: {reason}") from None


class _Stderr(_Standard):
    """Standard error, best effort: a message that cannot be written is dropped."""

    def _closed(self) -> Exception:
        return OSError("standard error is closed")

    def _write_closed(self) -> None:
        pass  # nowhere to say it: the exit status still does

    def _failed(self, error: Exception) -> None:
        self._stream = None  # and its buffer must not fail again at exit
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.__stderr__.fileno())
