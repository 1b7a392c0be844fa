"""Scans, counted from the observations: one source probing many ports of one host, one thing
(a port, ARP, ping) across many hosts, or many IP protocols of one host.

The rules engine cannot count distinct values, so the counting is done here: per source and
kind, every target it probed and what that target answered, when, in which frames, and which
observations (their engine keys) the scan accounts for, so that the rules can fold the
findings made from them into the one finding about the scan.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import count

from netwhy.dissect import icmp
from netwhy.expert.arp_observations import ArpObservations
from netwhy.expert.observations import ErrorGroup, Observations, ServiceAttempts

# What a target answered. Those in ANSWERED count as success: the rest are the failed
# attempts that scan detectors count against a source (Zeek, Snort).
OPEN, CLOSED, FILTERED, LIVE, UNREACHABLE, SILENT = (
    "open", "closed", "filtered", "live", "unreachable", "silent")
EXPIRED = "expired"  # its TTL ran out on the way: a traceroute's probe, neither kind
ANSWERED = frozenset({OPEN, LIVE})
UNANSWERED = frozenset({FILTERED, SILENT})  # nothing, or a firewall's word, came back
FAILED = frozenset({CLOSED, UNREACHABLE}) | UNANSWERED
UNREACH_PROTOCOL = 2  # destination unreachable, protocol unreachable (RFC 792)

ProbeKey = tuple[str, str, str, int]  # protocol, source, destination, port (-1: none)
Refusals = dict[tuple[str, str, str], list[ErrorGroup]]  # protocol, target, scanner
# How long before or after a port scan the scanner's probes of the same host by another
# protocol are taken for part of it: OS and version detection (nmap -O, -sV, xprobe) run
# right after the port scan, host discovery right before.
COMPANION_GRACE_S = 60.0


@dataclass
class Scan:
    """One source's probes of one kind, target by target."""

    kind: str  # port, sweep, protocol
    method: str  # tcp, udp, arp, echo, ip
    src: str
    dst: str = ""  # the host scanned (port and protocol scans)
    port: int = -1  # the port swept across hosts (TCP and UDP sweeps)
    answers: dict[str, str] = field(default_factory=dict)  # target -> what it answered
    times: dict[str, float] = field(default_factory=dict)  # target -> its first probe
    requests: int = 0  # probes sent
    first_time: float = float("inf")
    last_time: float = 0.0
    frames: set[int] = field(default_factory=set)
    origins: set[str] = field(default_factory=set)  # engine keys of what the scan explains

    def add(self, target: str, answer: str, time: float | None) -> None:
        self.answers[target] = answer
        if time is not None:
            self.times[target] = min(time, self.times.get(target, time))
            self.seen(time)

    def seen(self, time: float) -> None:
        self.first_time = min(self.first_time, time)
        self.last_time = max(self.last_time, time)

    def service(self, service: ServiceAttempts, origin: str) -> None:
        self.requests += service.attempts
        self.frames.update(service.request_frames, service.reply_frames)
        self.origins.add(f"{origin}:{service.cid}")
        if service.attempts:
            self.seen(service.last_time)

    def errors(self, groups: Iterable[ErrorGroup]) -> None:
        """The unreachables a probe drew are the scan's; a traceroute's time exceededs are
        not (they tell a path, and are reported as one)."""
        for group in groups:
            if group.kind != "unreachable":
                continue
            self.frames.update(group.frames)
            self.origins.add(f"error:{group.gid}")
            self.seen(group.last_time)

    def failed_times(self, answers: frozenset[str] = FAILED) -> list[float]:
        """The first probe of each target that answered one of `answers`, in order."""
        return sorted(time for target, time in self.times.items()
                      if self.answers[target] in answers)

    def tally(self) -> dict[str, int]:
        counted: dict[str, int] = defaultdict(int)
        for answer in self.answers.values():
            counted[answer] += 1
        return dict(counted)


def peak(times: list[float], window: float) -> int:
    """The most of these (sorted) times that fall within one window."""
    most, start = 0, 0
    for end, time in enumerate(times):
        while time - times[start] > window:
            start += 1
        most = max(most, end - start + 1)
    return most


def scans(seen: Observations) -> Iterator[Scan]:
    """Every candidate: a source with failed attempts at two targets or more of one kind. The
    rules judge them against the knowledge base's thresholds."""
    errors = _errors_by_probe(seen.errors.values())
    refusals = _refusals_of_answers(seen.errors.values())
    port_scans = [s for s in _port_scans(seen, errors, refusals) if len(s.failed_times()) >= 2]
    yield from port_scans
    scanned = {(scan.src, scan.method, scan.dst) for scan in port_scans}
    for scan in _port_sweeps(seen, errors, refusals):
        failed = [host for host, answer in scan.answers.items() if answer not in ANSWERED]
        # One port of many on each of these hosts: the port scans of them report it.
        covered = sum((scan.src, scan.method, host) in scanned for host in failed)
        if len(failed) >= 2 and covered * 2 < len(failed):
            yield scan
    for scan in [*_echo_sweeps(seen, errors), *_arp_sweeps(seen.arp), *_protocol_scans(seen)]:
        if len(scan.failed_times()) >= 2:
            yield scan


def _errors_by_probe(groups: Iterable[ErrorGroup]) -> dict[ProbeKey, list[ErrorGroup]]:
    """Destination unreachables and time exceededs by the datagram they quote."""
    found: dict[ProbeKey, list[ErrorGroup]] = defaultdict(list)
    for group in groups:
        if group.kind in ("unreachable", "time-exceeded"):
            found[(group.proto, group.q_src, group.q_dst, group.q_dport)].append(group)
    return found


def _refusals_of_answers(groups: Iterable[ErrorGroup]) -> Refusals:
    """Port unreachables a scanner's own kernel sent about its targets' answers (a raw socket
    read the answer, no ordinary socket was there to take it), by protocol, target, scanner."""
    found: Refusals = defaultdict(list)
    for group in groups:
        if group.kind == "unreachable" and group.sender == group.q_dst:
            found[(group.proto, group.q_src, group.q_dst)].append(group)
    return found


def _port_scans(
    seen: Observations, errors: dict[ProbeKey, list[ErrorGroup]], refusals: Refusals,
) -> Iterator[Scan]:
    pairs: dict[tuple[str, str], list[ServiceAttempts]] = defaultdict(list)
    for (_, src, dst, _), service in seen.services.items():
        pairs[(src, dst)].append(service)
    for (src, dst), probes in pairs.items():
        for proto in ("tcp", "udp"):
            services = [service for service in probes if service.proto == proto]
            if len(services) < 2:
                continue
            scan = Scan("port", proto, src, dst)
            for service in services:
                groups = errors.get((proto, src, dst, service.dport), [])
                scan.add(str(service.dport), _port_answer(service, groups), service.first_time)
                scan.service(service, "attempt")
                scan.errors(groups)
            scan.errors(refusals.get((proto, dst, src), []))
            _companions(scan, probes, errors)
            yield scan


def _companions(scan: Scan, probes: list[ServiceAttempts],
                errors: dict[ProbeKey, list[ErrorGroup]]) -> None:
    """The scanner's probes of the same host by other protocols around the scan (an OS
    fingerprint's TCP, UDP and ICMP probes, nmap's host discovery): part of the scan too."""
    start, end = scan.first_time - COMPANION_GRACE_S, scan.last_time + COMPANION_GRACE_S
    for service in probes:
        if service.proto != scan.method and service.first_time is not None \
                and start <= service.first_time <= end:
            scan.origins.add(f"{'echo' if service.proto == 'icmp' else 'attempt'}:{service.cid}")
            scan.errors(errors.get((service.proto, scan.src, scan.dst, service.dport), []))


def _port_answer(service: ServiceAttempts, groups: list[ErrorGroup]) -> str:
    if service.replies:
        return OPEN
    if any(g.kind == "time-exceeded" for g in groups):
        return EXPIRED
    if service.refused or any(g.port_unreachable and g.sender == service.dst
                              for g in groups):
        return CLOSED
    return FILTERED  # silence, or a firewall's unreachable (admin-prohibited and the like)


def _port_sweeps(
    seen: Observations, errors: dict[ProbeKey, list[ErrorGroup]], refusals: Refusals,
) -> Iterator[Scan]:
    ports: dict[tuple[str, str, int], list[ServiceAttempts]] = defaultdict(list)
    for (proto, src, _, dport), service in seen.services.items():
        if proto in ("tcp", "udp"):
            ports[(proto, src, dport)].append(service)
    for (proto, src, dport), services in ports.items():
        if len(services) < 2:
            continue
        scan = Scan("sweep", proto, src, port=dport)
        for service in services:
            groups = errors.get((proto, src, service.dst, dport), [])
            scan.add(service.dst, _host_answer(service, groups), service.first_time)
            scan.service(service, "attempt")
            scan.errors(groups)
            scan.errors(refusals.get((proto, service.dst, src), []))
        yield scan


def _host_answer(service: ServiceAttempts, groups: list[ErrorGroup]) -> str:
    if service.replies:
        return OPEN if service.proto != "icmp" else LIVE
    if any(g.kind == "time-exceeded" for g in groups):
        return EXPIRED
    if service.refused or any(g.sender == service.dst for g in groups):
        return CLOSED  # the host itself said no: it is up
    return UNREACHABLE if groups else SILENT


def _echo_sweeps(seen: Observations, errors: dict[ProbeKey, list[ErrorGroup]]) -> Iterator[Scan]:
    pingers: dict[str, list[ServiceAttempts]] = defaultdict(list)
    for (proto, src, _, _), service in seen.services.items():
        if proto == "icmp" and service.attempts:  # not replies nobody in the capture asked for
            pingers[src].append(service)
    for src, services in pingers.items():
        if len(services) < 2:
            continue
        scan = Scan("sweep", "echo", src)
        for service in services:
            groups = errors.get(("icmp", src, service.dst, -1), [])
            scan.add(service.dst, _host_answer(service, groups), service.first_time)
            scan.service(service, "echo")
            scan.errors(groups)
        yield scan


def _arp_sweeps(arp: ArpObservations) -> Iterator[Scan]:
    askers: dict[str, Scan] = {}
    numbers = count()  # the engine keys of ARP queries number them in this order
    for query in arp.queries.values():
        scan = askers.setdefault(query.asker_ip, Scan("sweep", "arp", query.asker_ip))
        scan.add(query.target_ip, LIVE if query.replies else SILENT, query.first_time)
        scan.seen(query.last_time)
        scan.requests += query.requests
        scan.frames.update(query.request_frames, query.reply_frames)
        scan.origins.update((f"arpq:{next(numbers)}", f"asker:{query.asker_mac}"))
    yield from askers.values()


def _protocol_scans(seen: Observations) -> Iterator[Scan]:
    """Protocol unreachables a host sent about itself, per source; the scan's probes of
    protocols the host does handle (UDP answered by port unreachable, ICMP echo answered)
    in the same span count as open."""
    found: dict[tuple[str, str], Scan] = {}
    for group in seen.errors.values():
        if (group.family, group.type, group.code) == (4, icmp.UNREACH, UNREACH_PROTOCOL) \
                and group.sender == group.q_dst:
            scan = found.setdefault((group.q_src, group.q_dst),
                                    Scan("protocol", "ip", group.q_src, group.q_dst))
            scan.add(group.proto, CLOSED, group.first_time)
            scan.errors([group])
            scan.requests += group.count
    for (src, dst), scan in found.items():
        start, end = scan.first_time, scan.last_time
        for group in seen.errors.values():
            if group.kind == "unreachable" and (group.q_src, group.q_dst) == (src, dst) \
                    and group.proto not in scan.answers and start <= group.first_time <= end:
                scan.add(group.proto, OPEN, group.first_time)
                scan.errors([group])
        echo = seen.services.get(("icmp", src, dst, -1))
        if echo is not None and echo.first_time is not None and start <= echo.first_time <= end:
            scan.add("icmp", LIVE if echo.replies else SILENT, echo.first_time)
            scan.service(echo, "echo")
    yield from found.values()
