"""Driving tshark through pyshark.

pyshark finds tshark, starts it, streams its output and reaps it. netwhy swaps pyshark's per-packet
EK/XML objects for plain tab-separated rows read in batches: parsing a Python object per packet is
what makes pyshark slow, and netwhy needs a few dozen fields, not whole dissection trees.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pyshark
from packaging.version import Version
from pyshark.tshark.output_parser.base_parser import BaseTsharkOutputParser
from pyshark.tshark.tshark import TSharkVersionException, get_tshark_version

from netwhy.children import bound
from netwhy.dissect import fields
from netwhy.errors import TsharkMissing

MINIMUM_TSHARK = Version("3.6")  # oldest accepted; tested on 4.0 (README)
PIPE_BYTES = 1 << 20  # tshark's standard input and output pipes (see _widen)
# tshark's rows netwhy takes in before it reads them: a stream's tshark finishes, and exits,
# while netwhy still reads its last rows, and the next one starts meanwhile (capture.py).
OUTPUT_AHEAD_BYTES = 16 << 20


def tshark_path_and_version() -> tuple[str, Version]:
    """The tshark netwhy will run, or TsharkMissing with a line the user can act on."""
    path = tshark_path()
    return path, tshark_version(path)


def tshark_path() -> str:
    # PATH only, as a shell would: pyshark's own search first obeys a config.ini in the current
    # directory, so a capture unpacked with one beside it could choose the program netwhy runs.
    path = shutil.which("tshark")
    if path is None:
        raise TsharkMissing("tshark not found on PATH: install it (Debian: apt-get install tshark)")
    return path


def tshark_version(path: str) -> Version:
    try:
        version = get_tshark_version(path)
    except (OSError, ValueError, subprocess.CalledProcessError, TSharkVersionException) as error:
        raise TsharkMissing(f"{path} does not run as tshark ('tshark -v' failed)") from error
    if version < MINIMUM_TSHARK:
        raise TsharkMissing(f"tshark {version} is too old: netwhy needs {MINIMUM_TSHARK} or newer")
    return version


class LineBatches(BaseTsharkOutputParser):
    """Hands pyshark every complete line read so far as one 'packet': one event-loop turn per
    64 KiB of output instead of one per packet."""

    def _extract_packet_from_data(self, data: bytes, got_first_packet: bool = True):
        end = data.rfind(b"\n")
        if end == -1:
            return None, data
        return data[: end + 1], data[end + 1 :]

    def _parse_single_packet(self, packet: bytes) -> list[str]:
        return packet.decode("utf-8", "replace").splitlines()


Feed = Callable[[int], None]  # writes a capture into a pipe's write end, and closes it


class FieldsCapture(pyshark.FileCapture):
    """A pyshark FileCapture that yields batches of tshark field rows and tap lines: for the
    whole file, or for what `feed` writes into tshark's standard input (from a thread)."""

    def __init__(self, path: Path, tshark_path: str, version: Version, feed: Feed | None = None):
        self.stderr_lines: collections.deque[str] = collections.deque(maxlen=20)
        self.returncode: int | None = None
        self._known_path, self._known_version = tshark_path, version
        self._feed = feed
        self._feeder: threading.Thread | None = None
        self._process: asyncio.subprocess.Process | None = None
        super().__init__(
            str(path),
            keep_packets=False,
            display_filter=fields.DISPLAY_FILTER,
            override_prefs=dict(fields.PREFERENCES),
            tshark_path=tshark_path,
            custom_parameters=field_parameters(),
        )
        # pyshark gives each capture a child watcher of its own (see close).
        self._watcher = asyncio.get_child_watcher()

    def start(self) -> None:
        """Start tshark (and the feed), to read its rows later: it loads its dissectors
        meanwhile."""
        if self._process is None:
            self._process = self.eventloop.run_until_complete(self._get_tshark_process())

    def batches(self) -> Iterator[list[str]]:
        self.start()
        yield from self._packets_from_tshark_sync(existing_process=self._process)

    def exited(self) -> bool:
        """Whether tshark has read all its input and exited (its last rows may be unread)."""
        return (self._process is not None and self._process.returncode is not None
                and (self._feeder is None or not self._feeder.is_alive()))

    def close(self) -> None:
        super().close()
        if self._feeder is not None:
            self._feeder.join()  # tshark has gone, so the pipe takes no more: it ends soon
        # pyshark left a SIGCHLD handler on an event loop that no longer runs; every later
        # child process of this program would try to wake it. Unless a later capture has
        # installed a watcher of its own since: that one is still watching its tshark.
        if asyncio.get_child_watcher() is self._watcher:
            self._watcher.attach_loop(None)

    def get_parameters(self, packet_count=None):
        parameters = super().get_parameters(packet_count)
        if self._feed is not None:
            parameters[-1] = "-"  # after "-r": the capture arrives on standard input
        return parameters

    async def _get_tshark_process(self, packet_count=None, stdin=None):
        parameters = bound([self._known_path, "-n", "-T", "tabs", *self.get_parameters()])
        write_end = None
        if self._feed is not None:
            stdin, write_end = os.pipe()
            _widen(write_end)
        try:
            process = await asyncio.create_subprocess_exec(
                *parameters,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                stdin=stdin,
                limit=OUTPUT_AHEAD_BYTES // 2,  # asyncio stops reading at twice the limit
                start_new_session=True,  # see netwhy.children
            )
        except BaseException:
            if write_end is not None:
                os.close(write_end)
            raise
        finally:
            if write_end is not None:
                os.close(stdin)
        # asyncio offers no public way to a child's pipe; without this one, its size stays. A
        # tshark that has already exited has had its pipe closed (Python 3.13: ValueError from
        # fileno(); 3.11: no transport left): nothing to widen, and its death is read at cleanup.
        with contextlib.suppress(AttributeError, ValueError):
            _widen(process._transport.get_pipe_transport(1).get_extra_info("pipe").fileno())
        if write_end is not None:
            self._feeder = threading.Thread(target=self._feed, args=(write_end,), daemon=True)
            self._feeder.start()
        self._create_stderr_handling_task(process.stderr)
        # Not pyshark's _created_new_process: it reports an early death with the whole command
        # line; netwhy reads the exit status and tshark's own words at cleanup instead.
        self._running_processes.add(process)
        return process

    def _get_tshark_version(self):
        return self._known_version  # pyshark would run `tshark -v` again for every capture

    def _setup_tshark_output_parser(self):
        return LineBatches()

    async def _handle_process_stderr_forever(self, stderr):
        # pyshark's own version decodes strictly and keeps only the last line.
        await collect_stderr(stderr, self.stderr_lines)

    async def _cleanup_subprocess(self, process):
        # tshark has closed stdout: wait for its exit status instead of killing it, so that a
        # crash or a damaged file is reported rather than mistaken for the end of the capture.
        if self._eof_reached and process.returncode is None:
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()
        elif process.returncode is None:
            process.kill()
            await process.wait()
        self.returncode = process.returncode
        await asyncio.gather(*self._stderr_handling_tasks)


def _widen(pipe: int) -> None:
    """Widen a pipe to a megabyte (16 times the default). Into tshark: while a fresh tshark
    spends a fifth of a second loading its dissectors, the prefilter goes on walking the file
    instead of waiting. Out of tshark: tshark writes its rows ahead of netwhy, and so finishes
    (and exits) before netwhy has read them all. Linux caps it (fs.pipe-max-size); elsewhere,
    or above the cap, the default stays."""
    with contextlib.suppress(AttributeError, OSError):
        fcntl.fcntl(pipe, fcntl.F_SETPIPE_SZ, PIPE_BYTES)


async def collect_stderr(stream: asyncio.StreamReader, into: collections.deque[str]) -> None:
    """tshark's or dumpcap's words, decoded leniently, without their routine greetings."""
    while line := await stream.readline():
        text = line.decode("utf-8", "replace").strip()
        if text and not text.startswith(("Running as user", "Capturing on")):
            into.append(text)


def field_parameters() -> list[str]:
    parameters = ["-o", f"gui.column.format:{fields.column_format()}"]
    for tap in fields.TAPS:
        parameters += ["-z", tap]
    # One option per protocol: tshark 4.0 takes "a,b" for the name of a protocol that does not
    # exist, and silently disables nothing.
    for protocol in fields.DISABLED_PROTOCOLS:
        parameters += ["--disable-protocol", protocol]
    return parameters
