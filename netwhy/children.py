"""The processes netwhy starts end with it, however it ends.

A signal netwhy handles (Ctrl-C, SIGTERM) unwinds its `finally` blocks, which stop the
children they started. Nothing unwinds after SIGKILL, so each child also carries a parent-death
signal: the kernel sends it SIGTERM when the netwhy thread that started it is gone.

- Programs (tshark, dumpcap, editcap, capinfos, netwhy's own workers) are started through
  `bound(argv)`: util-linux's `setpriv --pdeathsig TERM` sets the signal, then execs the
  program under the same process id. (A preexec_fn would do the same in Python, but Python
  warns that it may deadlock in a process with threads, and netwhy has threads.)
- They run in a session of their own: a Ctrl-C at the terminal, or a signal to netwhy's
  process group, reaches netwhy alone, which decides how its children end. `popen` and `run`
  (subprocess's, with both) also keep a list, so that `stop_all()` can end them at once when a
  signal arrives, before anything waits for them.
- Processes forked without exec (Sphinx's parallel workers) get it from `bind_forks()`; they
  also ignore Ctrl-C, which the terminal sends to the whole process group: netwhy itself
  answers it, and they end with netwhy.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import weakref
from collections.abc import Sequence
from typing import Any

_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_SETPRIV = shutil.which("setpriv")


def bound(argv: Sequence[str]) -> list[str]:
    """argv, started so that it ends when netwhy does (as it is where setpriv is missing)."""
    if _SETPRIV is None:
        return list(argv)
    return [_SETPRIV, "--pdeathsig", "TERM", "--", *argv]


_RUNNING: weakref.WeakSet[subprocess.Popen] = weakref.WeakSet()


def popen(argv: Sequence[str], **options: Any) -> subprocess.Popen:
    """subprocess.Popen for a child bound to netwhy, in its own session."""
    process = subprocess.Popen(bound(argv), start_new_session=True, **options)
    _RUNNING.add(process)
    return process


def run(argv: Sequence[str], *, input: Any = None, timeout: float | None = None,
        capture_output: bool = False, **options: Any) -> subprocess.CompletedProcess:
    """subprocess.run for a child bound to netwhy, in its own session."""
    if capture_output:
        options.update(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if input is not None:
        options["stdin"] = subprocess.PIPE
    with popen(argv, **options) as process:
        try:
            out, err = process.communicate(input, timeout)
        except BaseException:
            kill(process)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.communicate(timeout=_PIPE_GRACE_S)
            raise
    return subprocess.CompletedProcess(list(argv), process.returncode, out, err)


# After a kill, how long to wait for the pipes to close. Something outside the child's process
# group (a daemon it started) may hold them open for ever; netwhy is ending and does not wait.
_PIPE_GRACE_S = 2.0


def kill(process: subprocess.Popen) -> None:
    """Kill a child started by `popen` and whatever it started (its process group: a script's
    commands, tshark's dumpcap), which the parent-death signal does not reach."""
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)  # its own session, so its group id is its pid
    with contextlib.suppress(OSError):
        process.kill()


def stop_all() -> None:
    """Kill every child still running (those of `popen`, and forked workers)."""
    for process in list(_RUNNING):
        kill(process)
    if "multiprocessing" in sys.modules:  # Sphinx's parallel workers, if it started any
        for worker in sys.modules["multiprocessing"].active_children():
            worker.kill()


def bind_forks() -> None:
    """From now on, a child this process forks ends with it and leaves Ctrl-C to it."""
    os.register_at_fork(after_in_child=_in_forked_child)


def _in_forked_child() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with contextlib.suppress(OSError, AttributeError):  # not Linux: it outlives a killed netwhy
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
