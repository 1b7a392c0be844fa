"""The processes netwhy starts end with it, however it ends.

A signal netwhy handles (Ctrl-C, SIGTERM) unwinds its `finally` blocks, which stop the
children they started. Nothing unwinds after SIGKILL, so each child also carries a parent-death
signal: the kernel sends it SIGTERM when the netwhy thread that started it is gone.

- Programs (tshark, dumpcap, editcap, capinfos, netwhy's own workers) are started through
  `bound(argv)`: util-linux's `setpriv --pdeathsig TERM` sets the signal, then execs the
  program under the same process id. (A preexec_fn would do the same in Python, but Python
  warns that it may deadlock in a process with threads, and netwhy has threads.)
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
from collections.abc import Sequence

_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_SETPRIV = shutil.which("setpriv")


def bound(argv: Sequence[str]) -> list[str]:
    """argv, started so that it ends when netwhy does (as it is where setpriv is missing)."""
    if _SETPRIV is None:
        return list(argv)
    return [_SETPRIV, "--pdeathsig", "TERM", "--", *argv]


def bind_forks() -> None:
    """From now on, a child this process forks ends with it and leaves Ctrl-C to it."""
    os.register_at_fork(after_in_child=_in_forked_child)


def _in_forked_child() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with contextlib.suppress(OSError, AttributeError):  # not Linux: it outlives a killed netwhy
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
