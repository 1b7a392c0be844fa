"""Throw-away network namespaces for making captures with the real Linux kernel.

Every command here runs inside one of the topology's own namespaces (``ip -n NS`` or
``ip netns exec NS``), so the host's interfaces, routes and firewall are never touched.
Namespace names carry the process id and a per-process counter ("nw<pid>-<n>-<name>"), so
two runs at once cannot collide; interface names live inside the namespaces, so they can
stay short and fixed ("eth0").
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

from netwhy import children

# dumpcap prints "Capturing on" a little before the socket really captures (measured: < 50 ms),
# and hands packets over in blocks, so stopping it right after the last packet can lose them.
CAPTURE_SETTLE_S = 0.5
CAPTURE_GRACE_S = 1.0

_topology_numbers = itertools.count()
# Interfaces made after these are set inherit them (add_namespace, ipv6=True).
_QUIET_IPV6 = {"accept_dad": "0", "router_solicitations": "0",
               "mldv1_unsolicited_report_interval": "0", "mldv2_unsolicited_report_interval": "0"}


class Topology:
    """Namespaces, veth links and processes that all disappear when the ``with`` block ends."""

    def __init__(self) -> None:
        self.prefix = f"nw{os.getpid()}-{next(_topology_numbers)}-"
        self._namespaces: dict[str, str] = {}
        self._procs: list[subprocess.Popen[str]] = []

    def __enter__(self) -> Topology:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- building -------------------------------------------------------------------------

    def add_namespace(self, name: str, ipv6: bool = False) -> None:
        """Create namespace ``name`` with loopback up and IPv6 off (no IPv6 chatter in captures).
        ``ipv6``: IPv6 on, but quiet: no duplicate address detection or router solicitations,
        and the multicast listener reports of a new interface sent at once, so that none is
        still due when the capture starts."""
        full = self.prefix + name
        _run(["ip", "netns", "add", full])
        self._namespaces[name] = full
        if ipv6:
            for key, value in _QUIET_IPV6.items():
                self.sysctl(name, f"net.ipv6.conf.default.{key}", value)
        else:
            self.sysctl(name, "net.ipv6.conf.all.disable_ipv6", "1")
            self.sysctl(name, "net.ipv6.conf.default.disable_ipv6", "1")
        self.ip(name, "link", "set", "lo", "up")

    def link(self, a: str, a_if: str, b: str, b_if: str, mtu: int | None = None) -> None:
        """Connect namespaces ``a`` and ``b`` with a veth pair, both ends up."""
        # Created inside ``a`` with the peer placed straight into ``b``: never in the host.
        self.ip(a, "link", "add", a_if, "type", "veth", "peer", "name", b_if,
                "netns", self._full(b))
        for ns, ifname in ((a, a_if), (b, b_if)):
            if mtu is not None:
                self.ip(ns, "link", "set", ifname, "mtu", str(mtu))
            self.ip(ns, "link", "set", ifname, "up")

    def bridge(self, ns: str, name: str = "br0") -> None:
        """Add a Linux bridge ``name`` in ``ns``: a switch joining 3+ hosts on one segment.

        STP is off, so a port forwards as soon as it is up. Capturing on the bridge itself
        sees every frame on the segment: dumpcap makes it promiscuous, and a promiscuous
        bridge passes forwarded frames up as well.
        """
        # No multicast snooping: it would have the bridge join 224.0.0.106 (IGMP on the wire).
        self.ip(ns, "link", "add", name, "type", "bridge", "stp_state", "0",
                "mcast_snooping", "0")
        self.ip(ns, "link", "set", name, "up")

    def plug(
        self, host: str, host_if: str, switch: str, port: str | None = None,
        bridge: str = "br0",
    ) -> None:
        """Connect ``host``'s ``host_if`` to ``bridge`` in namespace ``switch`` by a veth pair.

        The switch end is named ``port`` (default: the host's name; at most 15 characters).
        """
        port = port or host
        self.link(switch, port, host, host_if)
        self.ip(switch, "link", "set", port, "master", bridge)

    def address(self, ns: str, ifname: str, cidr: str) -> None:
        self.ip(ns, "address", "add", cidr, "dev", ifname)

    def route(self, ns: str, destination: str, via: str) -> None:
        self.ip(ns, "route", "add", destination, "via", via)

    def sysctl(self, ns: str, key: str, value: str) -> None:
        self.run(ns, ["sysctl", "-q", "-w", f"{key}={value}"])

    def enable_forwarding(self, ns: str) -> None:
        self.sysctl(ns, "net.ipv4.ip_forward", "1")

    def ip(self, ns: str, *args: str) -> None:
        _run(["ip", "-n", self._full(ns), *args])

    # --- running --------------------------------------------------------------------------

    def run(
        self, ns: str, args: Sequence[str], input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run a command to completion inside namespace ``ns``."""
        return _run(self._exec(ns, args), input=input, check=check)

    def start(
        self, ns: str, args: Sequence[str], ready: str | None = None
    ) -> subprocess.Popen[str]:
        """Start a background command in ``ns``; if ``ready`` is given, wait for that output line.

        The process gets stdin/stdout pipes (for interactive helpers) and is killed at teardown.
        """
        proc = children.popen(  # ends with netwhy, even after SIGKILL
            self._exec(ns, args),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self._procs.append(proc)
        if ready is not None:
            _wait_for_line(proc, ready)
        return proc

    def stop(self, proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> None:
        """Stop a process started with :meth:`start` and reap it."""
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()

    @contextlib.contextmanager
    def capture(self, ns: str, ifname: str | Sequence[str], path: Path,
                capture_filter: str | None = None) -> Iterator[None]:
        """Run dumpcap on ``ifname`` in ``ns`` for the duration of the block, writing pcapng
        (only what ``capture_filter``, a BPF filter, lets through, if given).

        Several interface names make one pcapng with one interface block per name, so a
        router's two sides share one timeline (frames record which interface they came in on);
        it is then sorted by time, as mergecap would, since dumpcap writes each interface's
        frames in batches.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        names = [ifname] if isinstance(ifname, str) else list(ifname)
        interfaces = [arg for name in names for arg in ("-i", name)]
        filtered = ["-f", capture_filter] if capture_filter else []
        proc = self.start(ns, ["dumpcap", "-q", *interfaces, *filtered, "-w", str(path)],
                          ready="Capturing on")
        try:
            time.sleep(CAPTURE_SETTLE_S)
            yield
            time.sleep(CAPTURE_GRACE_S)
        finally:
            self.stop(proc, signal.SIGINT)  # SIGINT makes dumpcap flush and close the file
            if path.exists():
                if len(names) > 1:
                    _sort_by_time(path)
                path.chmod(0o644)  # dumpcap writes 0600; tests need not run as root

    # --- teardown -------------------------------------------------------------------------

    def close(self) -> None:
        """Kill every process and delete every namespace; safe to call more than once."""
        for proc in reversed(self._procs):
            self.stop(proc)
        self._procs.clear()
        for full in reversed(list(self._namespaces.values())):
            # Anything else still running in the namespace (e.g. a child of a helper) goes too.
            pids = _run(["ip", "netns", "pids", full], check=False).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            _run(["ip", "netns", "delete", full], check=False)
        self._namespaces.clear()

    def _full(self, ns: str) -> str:
        # KeyError here means a typo in a scenario, never a silent command on the host.
        return self._namespaces[ns]

    def _exec(self, ns: str, args: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self._full(ns), *args]


def _run(
    args: Sequence[str], input: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, input=input, capture_output=True, text=True, timeout=60)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip()}")
    return done


def _sort_by_time(path: Path) -> None:
    """Put a capture's frames in timestamp order (reordercap, from the Wireshark tools)."""
    sorted_path = path.with_name(path.name + ".sorted")
    _run(["reordercap", str(path), str(sorted_path)])
    sorted_path.replace(path)


def _wait_for_line(proc: subprocess.Popen[str], text: str) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        if text in line:
            return
    raise RuntimeError(f"{proc.args} exited before printing {text!r}")
