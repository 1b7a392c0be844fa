"""The second lane: a worker process dissects the later chunks of a capture while netwhy reads
the earlier ones, and spools tshark's lines to a temporary file that netwhy reads afterwards.

A process, not a thread: pyshark runs its event loop in the main thread of a process, and the
worker's copying of lines then does not contend with netwhy's parsing for the GIL. A fresh
`python -m netwhy.dissect.spool`, not a fork: a fork shares the parent's event loop (its epoll
and signal wake-up descriptors) and left the parent's pyshark waiting forever now and then.
Each chunk's lines end with a trailer line: tshark's exit status and its last words on stderr.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from netwhy.dissect.chunks import Chunk
from netwhy.dissect.rows import ChunkEnd
from netwhy.dissect.tshark import FieldsCapture
from packaging.version import Version
from pyshark.capture.capture import TSharkCrashException

_TRAILER = "\x00end\t"
_POLL_S = 0.01


class SpooledLane:
    """Starts dissecting `chunks` at once; `lines()` later yields their lines in order, with a
    ChunkEnd after each chunk."""

    def __init__(self, path: Path, chunks: list[Chunk], tshark_path: str, version: Version):
        # Opened twice (the worker writes, netwhy reads at its own pace) and unlinked at once:
        # nothing is left behind, however either process ends.
        write_fd, name = tempfile.mkstemp(prefix="netwhy-", suffix=".rows")
        self._spool = open(name, encoding="utf-8", errors="replace", newline="\n")  # noqa: SIM115
        os.unlink(name)
        self._chunks = len(chunks)
        order = {
            "path": str(path), "tshark": tshark_path, "version": str(version),
            "spool_fd": write_fd,
            "chunks": [{**asdict(chunk), "prefix": base64.b64encode(chunk.prefix).decode()}
                       for chunk in chunks],
        }
        try:
            self._worker = subprocess.Popen(
                [sys.executable, "-m", "netwhy.dissect.spool"], stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(write_fd,),
            )
        finally:
            os.close(write_fd)
        with self._worker.stdin as stdin:
            stdin.write(json.dumps(order).encode())

    def lines(self) -> Iterator[str | ChunkEnd]:
        ended = 0
        pending = ""
        with self._spool as spool:
            while ended < self._chunks:
                block = spool.read(1 << 16)
                if not block:
                    if self._worker.poll() is None:
                        time.sleep(_POLL_S)  # the worker is still writing
                        continue
                    block = spool.read(1 << 16)  # what it wrote just before it ended
                    if not block:  # it died without its trailers (killed)
                        yield ChunkEnd(-signal.SIGKILL, ["the dissecting worker stopped early"])
                        return
                lines = (pending + block).split("\n")
                pending = lines.pop()
                for line in lines:
                    if line.startswith(_TRAILER):
                        code, errors = json.loads(line[len(_TRAILER):])
                        ended += 1
                        yield ChunkEnd(code, errors)
                    else:
                        yield line

    def close(self) -> None:
        if self._worker.poll() is None:
            self._worker.terminate()
        self._worker.wait()
        self._spool.close()


def _dissect_lane(
    path: Path, chunks: list[Chunk], tshark_path: str, version: Version, spool_fd: int
) -> None:
    with open(spool_fd, "w", encoding="utf-8", newline="\n") as out:
        for chunk in chunks:
            capture = FieldsCapture(path, tshark_path, version, chunk)
            try:
                for batch in capture.batches():
                    if batch:
                        out.write("\n".join(batch) + "\n")
            except TSharkCrashException as error:
                capture.stderr_lines.append(str(error))
            finally:
                capture.close()
            code = capture.returncode if capture.returncode is not None else -signal.SIGKILL
            out.write(_TRAILER + json.dumps([code, list(capture.stderr_lines)]) + "\n")
            out.flush()


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    order = json.load(sys.stdin)
    chunks = [Chunk(**{**c, "prefix": base64.b64decode(c["prefix"])}) for c in order["chunks"]]
    _dissect_lane(Path(order["path"]), chunks, order["tshark"], Version(order["version"]),
                  order["spool_fd"])


if __name__ == "__main__":
    main()
