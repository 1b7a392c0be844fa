"""Live traffic: dumpcap captures, netwhy's live filter (livefilter.py) chooses from its pcapng
stream, tshark reads that from a pipe (`-r -`) with netwhy's fields, filter and taps, and the
lines become facts as they come while a clock asks for judgements in between.

tshark reads a pipe, not an interface: `tshark -i -` would start a dumpcap of its own that
spools the pipe into a temporary file, which grows without bound while tshark falls behind and
then takes as long to read after the capture stops (an ARP flood's 90 s ran 111).

dumpcap and tshark run in a session of their own, bound to the main thread that starts them
(netwhy.children), so a Ctrl-C reaches netwhy only and a killed netwhy takes them along. At the
end netwhy stops dumpcap, the filter and tshark read what is left, tshark prints its taps and
exits; whatever still waits `drain_s` after the deadline is counted unread instead of read.
"""

from __future__ import annotations

import asyncio
import collections
import os
import re
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from packaging.version import Version
from pyshark.capture.capture import Capture
from pyshark.tshark.tshark import get_process_path

from netwhy.children import bound
from netwhy.dissect import fields
from netwhy.dissect.facts import Fact, TcpStall, UdpConversation
from netwhy.dissect.livefilter import Budgets, LiveFilter
from netwhy.dissect.rows import Rows, TsharkEnd
from netwhy.dissect.tshark import LineBatches, _widen, collect_stderr, field_parameters
from netwhy.errors import BadTarget, NoPermission, TsharkFailed, UnreadableInput

# What dumpcap says when it may not capture, when the interface does not exist or is down,
# and when the capture filter does not compile.
_DENIED = ("permission", "Operation not permitted", "not permitted")
_NO_DEVICE = ("no device", "No such device", "doesn't exist", "There is no device")
_DOWN = ("is not up",)
_BAD_FILTER = ("capture filter", "syntax error")
# dumpcap's last words, even with -q: what it received and what was lost on the way.
_DROPS = re.compile(r"Packets received/dropped on interface .*: (\d+)/\d+ "
                   r"\(pcap:(\d+)/dumpcap:(\d+)/flushed:(\d+)/ps_ifdrop:(\d+)\)")
_POLL_S = 0.1  # while draining, how often the deadlines are looked at


@dataclass(frozen=True)
class Drops:
    """What dumpcap counted as lost: by the kernel (its buffer full: dumpcap or netwhy fell
    behind), by dumpcap itself (including what it flushed at the end), by the interface."""

    kernel: int = 0
    dumpcap: int = 0
    interface: int = 0

    @classmethod
    def said(cls, lines: list[str]) -> Drops:
        found = next((m for line in lines if (m := _DROPS.search(line))), None)
        if found is None:
            return cls()
        _, kernel, dumpcap, flushed, interface = (int(n) for n in found.groups())
        return cls(kernel, dumpcap + flushed, interface)


@dataclass(frozen=True)
class Limits:
    """How the live capture keeps up (kb/live.yaml)."""

    budgets: Budgets
    buffer_mb: int  # dumpcap's kernel buffer
    drain_s: float  # after the deadline, what is left is read for this long at most
    behind_s: float  # a lag past which the kernel may be dropping frames


@dataclass
class LiveEnd:
    """How the capture ended, and what was counted by then."""

    tshark: TsharkEnd
    dumpcap: TsharkEnd
    packets: int  # frames dumpcap handed over
    udp: list[UdpConversation]  # the conversation counts, busiest first
    drops: Drops = field(default_factory=Drops)
    shed: int = 0  # ARP frames netwhy kept from tshark
    unread: int = 0  # frames left unread at the end
    tapped: bool = True  # tshark printed its taps (False: it was stopped first)
    failure: Exception | None = None  # what stopped the live filter before the end
    stalls: list[TcpStall] = field(default_factory=list)  # TCP data that stopped getting through


class LiveFieldsCapture(Capture):
    """Live facts from one interface: dumpcap -> live filter -> tshark."""

    def __init__(self, interface: str, kernel_filter: str | None, tshark_path: str,
                 version: Version, limits: Limits):
        self.stderr_lines: collections.deque[str] = collections.deque(maxlen=20)
        self.dumpcap_lines: collections.deque[str] = collections.deque(maxlen=20)
        self.interface, self.kernel_filter, self.limits = interface, kernel_filter, limits
        self.filter = LiveFilter(limits.budgets, limits.behind_s)
        self._known_path, self._known_version = tshark_path, version
        self._dumpcap: asyncio.subprocess.Process | None = None
        self._tshark: asyncio.subprocess.Process | None = None
        self._thread: threading.Thread | None = None
        self._stopped_at: float | None = None
        self._tapped = True
        self._rows = Rows()
        super().__init__(
            display_filter=fields.DISPLAY_FILTER,
            override_prefs=dict(fields.PREFERENCES),
            tshark_path=tshark_path,
            custom_parameters=["-l", *field_parameters()],
        )

    def _get_tshark_version(self):
        return self._known_version

    def get_parameters(self, packet_count=None):
        return [*super().get_parameters(packet_count), "-r", "-"]

    def _dumpcap_parameters(self) -> list[str]:
        parameters = ["-q", "-i", self.interface, "-B", str(self.limits.buffer_mb), "-w", "-"]
        if self.kernel_filter:
            parameters += ["-f", self.kernel_filter]
        return parameters

    async def _start(self) -> asyncio.subprocess.Process:
        """dumpcap, tshark and the filter between them. From the main thread: a child's
        parent-death signal fires when the thread that forked it ends."""
        dumpcap = get_process_path(tshark_path=self._known_path, process_name="dumpcap")
        captured, into_filter = os.pipe()
        chosen, into_tshark = os.pipe()
        for pipe in (into_filter, into_tshark):
            _widen(pipe)  # room for a second of flood while the GIL is elsewhere
        self._dumpcap = await asyncio.create_subprocess_exec(
            *bound([dumpcap, *self._dumpcap_parameters()]), stdout=into_filter,
            stderr=asyncio.subprocess.PIPE, start_new_session=True,
        )
        os.close(into_filter)
        self._stderr_handling_tasks.append(
            asyncio.ensure_future(collect_stderr(self._dumpcap.stderr, self.dumpcap_lines)))
        self._tshark = await asyncio.create_subprocess_exec(
            *bound([self._known_path, "-n", "-T", "tabs", *self.get_parameters()]),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, stdin=chosen,
            start_new_session=True,
        )
        os.close(chosen)
        self._stderr_handling_tasks.append(
            asyncio.ensure_future(collect_stderr(self._tshark.stderr, self.stderr_lines)))
        self._running_processes.update({self._dumpcap, self._tshark})
        self._thread = threading.Thread(target=self.filter.run, args=(captured, into_tshark),
                                        name="live filter", daemon=True)
        self._thread.start()
        return self._tshark

    def stop(self) -> None:
        """Stop capturing: dumpcap ends, the filter and tshark read what is left."""
        if self._stopped_at is None:
            self._stopped_at = time.monotonic()
        if self._dumpcap is not None and self._dumpcap.returncode is None:
            self._dumpcap.send_signal(signal.SIGTERM)

    def run(self, on_facts: Callable[[list[Fact]], None], on_tick: Callable[[], float],
            duration_s: float | None) -> LiveEnd:
        """Feed facts to on_facts as their lines come; call on_tick whenever its last answer
        (seconds until the next call) has passed, packets or not; stop after duration_s, or on
        stop() (SIGINT, SIGTERM)."""
        return self.eventloop.run_until_complete(self._run(on_facts, on_tick, duration_s))

    async def _run(self, on_facts, on_tick, duration_s) -> LiveEnd:
        started = time.monotonic()
        deadline = None if duration_s is None else started + duration_s
        process = await self._start()
        parser = LineBatches()
        data, pending, next_tick = b"", None, started
        loop = asyncio.get_running_loop()
        handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT,
                                                                     signal.SIGTERM)}
        for signum in handlers:
            loop.add_signal_handler(signum, self.stop)
        try:
            while True:
                if pending is None:
                    pending = asyncio.ensure_future(
                        parser.get_packets_from_stream(process.stdout, data))
                # Wait for lines or for the clock; a read is never cancelled, only awaited again.
                wake = next_tick if self._stopped_at is None else time.monotonic() + _POLL_S
                if deadline is not None and self._stopped_at is None:
                    wake = min(wake, deadline)
                done, _ = await asyncio.wait({pending}, timeout=max(0.0, wake - time.monotonic()))
                if pending in done:
                    try:
                        lines, data = pending.result()
                    except EOFError:
                        break
                    pending = None
                    if lines:  # None: half a line so far
                        # A list, not the generator: the tap lines among them count only
                        # once it is read to the end.
                        on_facts(list(self._rows.stream(self.filter, lines)))
                now = time.monotonic()
                if self._stopped_at is not None:
                    self._drain(now)
                    continue
                if now >= next_tick:
                    next_tick = now + on_tick()
                if deadline is not None and now >= deadline:
                    self.stop()
                if self._dumpcap.returncode is not None:
                    self.stop()  # dumpcap failed (permission, no device): drain
        finally:
            for signum, handler in handlers.items():
                loop.remove_signal_handler(signum)
                signal.signal(signum, handler)
            await self._end()
        return self._live_end()

    def _drain(self, now: float) -> None:
        """Past the deadline by drain_s, the rest is unread; by twice that, tshark stops."""
        late = now - self._stopped_at
        if late >= self.limits.drain_s:
            self.filter.give_up()
        if late >= 2 * self.limits.drain_s and self._tshark.returncode is None:
            self._tapped = False
            self._tshark.terminate()

    async def _end(self) -> None:
        self.stop()
        self.filter.give_up()
        for child in (self._tshark, self._dumpcap):
            try:
                await asyncio.wait_for(child.wait(), 2 * self.limits.drain_s)
            except TimeoutError:
                if child is self._tshark:
                    self._tapped = False  # killed before its taps
                child.kill()
                await child.wait()
        self._thread.join()  # both its ends are closed now, or soon: dumpcap has gone
        await asyncio.gather(*self._stderr_handling_tasks)
        self._running_processes.clear()

    def _live_end(self) -> LiveEnd:
        live = self.filter
        udp: list[UdpConversation] = []
        stalls = list(live.stalls())
        if self._tapped:
            for key, forward, backward, earliest_ns, latest_ns in live.counted():
                self._rows.add_udp(key, forward, backward, earliest_ns, latest_ns)
            udp = list(self._rows.conversations())
        dumpcap_lines = list(self.dumpcap_lines)
        return LiveEnd(TsharkEnd(self._tshark.returncode, list(self.stderr_lines)),
                       TsharkEnd(self._dumpcap.returncode, dumpcap_lines),
                       live.frames, udp, Drops.said(dumpcap_lines), live.shed, live.unread,
                       self._tapped, live.failure, stalls)

    def close(self) -> None:
        super().close()
        asyncio.get_child_watcher().attach_loop(None)


def check_live_end(end: LiveEnd, interface: str) -> None:
    """Raise the one-line error a failed capture deserves."""
    lines = [*end.dumpcap.stderr_lines, *end.tshark.stderr_lines]
    words = " ".join(lines)
    if any(sign in words for sign in _DENIED):
        raise NoPermission(
            f"no permission to capture on {interface}: run as root, or give dumpcap its "
            "capabilities (setcap cap_net_raw,cap_net_admin+eip $(which dumpcap)) or join the "
            "wireshark group (README: live capture)")
    if any(sign in words for sign in _NO_DEVICE):
        raise UnreadableInput(f"no interface named {interface} ({_reason(end)})")
    if any(sign in words for sign in _DOWN):
        raise UnreadableInput(f"interface {interface} is down: bring it up first "
                              f"(ip link set {interface} up)")
    if any(sign in words for sign in _BAD_FILTER):
        said = next(line for line in lines if any(sign in line for sign in _BAD_FILTER))
        raise BadTarget(f"the capture filter does not compile: {said}")
    if isinstance(end.failure, ValueError):
        raise TsharkFailed(f"capturing on {interface} failed: {end.failure}")
    if end.failure is not None:
        raise end.failure  # a bug: its traceback, from the thread it happened in
    code = end.tshark.returncode
    if code is not None and code < 0 and code != -signal.SIGTERM:
        raise TsharkFailed(f"tshark failed while watching {interface}: killed by signal {-code}")
    dumpcap = end.dumpcap.returncode
    if dumpcap not in (0, None, -signal.SIGTERM) and end.dumpcap.stderr_lines:
        raise TsharkFailed(f"capturing on {interface} failed: {_reason(end)}")


def _reason(end: LiveEnd) -> str:
    """dumpcap's (or tshark's) last line, without the parentheses dumpcap puts around it."""
    lines = end.dumpcap.stderr_lines or end.tshark.stderr_lines
    return lines[-1].strip("()") if lines else "no message"
