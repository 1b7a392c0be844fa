"""Live traffic: pyshark's LiveCapture (dumpcap captures, tshark reads its pipe) with netwhy's
fields, filter and taps, turned into facts as the lines come while a clock asks for judgements
in between.

dumpcap and tshark run in a session of their own, so a Ctrl-C reaches netwhy only: netwhy then
stops dumpcap, tshark reads to the end of the pipe, prints its taps and exits, and nothing of
the last second is lost.
"""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

import pyshark
from packaging.version import Version
from pyshark.tshark.tshark import get_process_path

from netwhy.dissect import fields
from netwhy.dissect.facts import Fact, UdpConversation
from netwhy.dissect.rows import Rows, TsharkEnd
from netwhy.dissect.tshark import LineBatches, collect_stderr, field_parameters
from netwhy.errors import BadTarget, NoPermission, TsharkFailed, UnreadableInput

# What dumpcap says when it may not capture, when the interface does not exist, and when the
# capture filter does not compile.
_DENIED = ("permission", "Operation not permitted", "not permitted")
_NO_DEVICE = ("no device", "No such device", "doesn't exist", "There is no device")
_BAD_FILTER = ("capture filter", "syntax error")


@dataclass
class LiveEnd:
    """How the capture ended, and what tshark's taps counted by then."""

    tshark: TsharkEnd
    dumpcap: TsharkEnd
    packets: int
    udp: list[UdpConversation]  # the conversation tap, busiest first


class LiveFieldsCapture(pyshark.LiveCapture):
    """Live facts from one interface (tshark reads dumpcap's pipe)."""

    def __init__(self, interface: str, capture_filter: str | None, tshark_path: str,
                 version: Version):
        self.stderr_lines: collections.deque[str] = collections.deque(maxlen=20)
        self.dumpcap_lines: collections.deque[str] = collections.deque(maxlen=20)
        self._known_path, self._known_version = tshark_path, version
        self._dumpcap = None
        self._stopping = False
        self._rows = Rows()
        super().__init__(
            interface=interface,
            bpf_filter=fields.live_capture_filter(capture_filter),
            display_filter=fields.DISPLAY_FILTER,
            override_prefs=dict(fields.PREFERENCES),
            tshark_path=tshark_path,
            custom_parameters=["-l", *field_parameters()],
        )

    def _get_tshark_version(self):
        return self._known_version

    def _setup_tshark_output_parser(self):
        return LineBatches()

    async def _get_tshark_process(self, packet_count=None, stdin=None):
        dumpcap = get_process_path(tshark_path=self._known_path, process_name="dumpcap")
        read, write = os.pipe()
        self._dumpcap = await asyncio.create_subprocess_exec(
            dumpcap, *self._get_dumpcap_parameters(), stdout=write,
            stderr=asyncio.subprocess.PIPE, start_new_session=True,
        )
        os.close(write)
        self._stderr_handling_tasks.append(
            asyncio.ensure_future(collect_stderr(self._dumpcap.stderr, self.dumpcap_lines)))
        process = await asyncio.create_subprocess_exec(
            self._known_path, "-n", "-T", "tabs", *self.get_parameters(),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, stdin=read,
            start_new_session=True,
        )
        os.close(read)
        self._stderr_handling_tasks.append(
            asyncio.ensure_future(collect_stderr(process.stderr, self.stderr_lines)))
        self._running_processes.update({self._dumpcap, process})
        return process

    def stop(self) -> None:
        """Stop capturing: dumpcap ends, tshark drains the pipe and prints its taps."""
        self._stopping = True
        if self._dumpcap is not None and self._dumpcap.returncode is None:
            self._dumpcap.send_signal(signal.SIGTERM)

    def run(self, on_facts: Callable[[list[Fact]], None], on_tick: Callable[[], float],
            duration_s: float | None) -> LiveEnd:
        """Feed facts to on_facts as their lines come; call on_tick whenever its last answer
        (seconds until the next call) has passed, packets or not; stop after duration_s, or on
        stop()."""
        return self.eventloop.run_until_complete(self._run(on_facts, on_tick, duration_s))

    async def _run(self, on_facts, on_tick, duration_s) -> LiveEnd:
        started = time.monotonic()
        process = await self._get_tshark_process()
        parser = self._setup_tshark_output_parser()
        data, pending, next_tick = b"", None, started
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, self.stop)
        loop.add_signal_handler(signal.SIGTERM, self.stop)
        try:
            while True:
                if pending is None:
                    pending = asyncio.ensure_future(
                        parser.get_packets_from_stream(process.stdout, data))
                # Wait for lines or for the clock; a read is never cancelled, only awaited again.
                wait_s = max(0.0, next_tick - time.monotonic())
                done, _ = await asyncio.wait({pending}, timeout=wait_s)
                if pending in done:
                    try:
                        lines, data = pending.result()
                    except EOFError:
                        break
                    pending = None
                    if lines:  # None: half a line so far
                        # A list, not the generator: the tap lines among them count only
                        # once it is read to the end.
                        on_facts(list(self._rows.stream(None, lines)))
                now = time.monotonic()
                if now >= next_tick and not self._stopping:
                    next_tick = now + on_tick()
                if duration_s is not None and now - started >= duration_s and not self._stopping:
                    self.stop()
                if self._dumpcap.returncode is not None and not self._stopping:
                    self._stopping = True  # dumpcap failed (permission, no device): drain
        finally:
            loop.remove_signal_handler(signal.SIGINT)
            loop.remove_signal_handler(signal.SIGTERM)
            self.stop()
            for child in (process, self._dumpcap):
                try:
                    await asyncio.wait_for(child.wait(), 10)
                except TimeoutError:
                    child.kill()
                    await child.wait()
            await asyncio.gather(*self._stderr_handling_tasks)
            self._running_processes.clear()
        return LiveEnd(TsharkEnd(process.returncode, list(self.stderr_lines)),
                       TsharkEnd(self._dumpcap.returncode, list(self.dumpcap_lines)),
                       self._rows.packets, list(self._rows.conversations()))

    def close(self) -> None:
        super().close()
        asyncio.get_child_watcher().attach_loop(None)


def check_live_end(end: LiveEnd, interface: str) -> None:
    """Raise the one-line error a failed capture deserves."""
    words = " ".join([*end.dumpcap.stderr_lines, *end.tshark.stderr_lines])
    if any(sign in words for sign in _DENIED):
        raise NoPermission(
            f"no permission to capture on {interface}: run as root, or give dumpcap its "
            "capabilities (setcap cap_net_raw,cap_net_admin+eip $(which dumpcap)) or join the "
            "wireshark group (README: live capture)")
    if any(sign in words for sign in _NO_DEVICE):
        raise UnreadableInput(f"no interface named {interface} ({_last(end)})")
    if any(sign in words for sign in _BAD_FILTER):
        said = next(line for line in [*end.dumpcap.stderr_lines, *end.tshark.stderr_lines]
                    if any(sign in line for sign in _BAD_FILTER))
        raise BadTarget(f"the capture filter does not compile: {said}")
    code = end.tshark.returncode
    if code is not None and code < 0 and code != -signal.SIGTERM:
        raise TsharkFailed(f"tshark failed while watching {interface}: killed by signal {-code}")
    dumpcap = end.dumpcap.returncode
    if dumpcap not in (0, None, -signal.SIGTERM) and end.dumpcap.stderr_lines:
        raise TsharkFailed(f"capturing on {interface} failed: {_last(end)}")


def _last(end: LiveEnd) -> str:
    lines = end.dumpcap.stderr_lines or end.tshark.stderr_lines
    return lines[-1] if lines else "no message"
