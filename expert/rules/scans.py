"""Scans reported once: many ports of one host (scan.port), many hosts (scan.sweep), many IP
protocols of one host (scan.protocol), each with what answered; the per-probe findings a
scan draws (refusals, port, protocol and host unreachables, unanswered pings and ARP, an ARP
storm, silence) are folded into it."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from durable.lang import m, when_all

from netwhy.expert.engine_facts import microseconds
from netwhy.expert.observations import Observations
from netwhy.expert.registry import Rule
from netwhy.expert.rule_api import RuleApi
from netwhy.expert.scans import ANSWERED, FAILED, UNANSWERED, Scan, peak, scans
from netwhy.kb import KnowledgeBase

RULES = (
    Rule("scan.port",
         "One source probed many ports of one host (TCP or UDP), most of them closed or silent",
         ("scan.port",)),
    Rule("scan.sweep",
         "One source probed many hosts (by ARP, ping, or one TCP or UDP port), most of them "
         "absent or closed",
         ("scan.sweep",)),
    Rule("scan.protocol",
         "One host answered protocol unreachable for many IP protocol numbers from one source",
         ("scan.protocol",)),
    Rule("scan.folds-its-probes",
         "A refusal, unreachable, unanswered ping or ARP, storm or silence that a scan's probe "
         "drew is part of the scan, not a failure of its own",
         ("scan.port", "scan.sweep", "scan.protocol")),
)
PORT, SWEEP, PROTOCOL, FOLDS = (rule.id for rule in RULES)
CONDITIONS = {"port": PORT, "sweep": SWEEP, "protocol": PROTOCOL}
SHARED_FEATURES = ("proto", "dport")
# Findings made from a scan's probes, besides those made from ICMP errors (all of which it folds).
FOLDED = ("tcp.refused", "conversation.silent", "icmp.echo.no-reply", "icmp.echo.ok",
          "arp.unanswered", "arp.storm")
MAX_SCAN_FRAMES = 64  # evidence frames a scan lists; its counts say the rest
# Observations a scan folds at most: the engine judges at most 10,000 unanswered attempts and
# 10,000 pinged hosts one by one (engine_facts.py), so no more findings can come from them.
MAX_FOLDED = 20_000
MAX_TARGETS_NAMED = 1024  # hosts a sweep's subject names
MAX_ANSWERED_NAMED = 16  # open ports, live hosts or handled protocols its summary names
REFUSED = FAILED - UNANSWERED  # a reset, a port unreachable, a router's host unreachable
METHODS = {"tcp": "TCP", "udp": "UDP", "arp": "ARP", "echo": "ping (ICMP echo)", "ip": "IP"}


def observation_facts(seen: Observations, kb: KnowledgeBase) -> Iterator[dict[str, Any]]:
    """One fact per candidate scan, with its counts and the observations it accounts for.
    A candidate with fewer failed targets in all than its kind's threshold cannot pass it
    within a window either: it stays out of the engine (a busy capture has a thousand such
    pairs of failures, each fact a few hundred bytes to store and match)."""
    least = _limits(kb)
    for index, scan in enumerate(scans(seen)):
        if len(scan.failed_times()) >= least[scan.kind]:
            yield scan_fact(f"scan:{index}", scan, seen.end_time)


def _limits(kb: KnowledgeBase) -> dict[str, int]:
    """By the kind of scan, its least failed targets (read by name, so tests can find them)."""
    return {"port": kb.threshold("scan.port", "min_ports"),
            "sweep": kb.threshold("scan.sweep", "min_hosts"),
            "protocol": kb.threshold("scan.protocol", "min_protocols")}


def scan_fact(key: str, scan: Scan, end_time: float) -> dict[str, Any]:
    tally = scan.tally()
    answered = sorted((t for t, a in scan.answers.items() if a in ANSWERED), key=_order)
    targets = sorted(scan.answers, key=_order)
    frames = sorted(scan.frames)
    return {
        "kind": "scan", "key": key, "type": scan.kind, "condition": CONDITIONS[scan.kind],
        "method": scan.method,
        "src": scan.src, "dst": scan.dst, "port": scan.port, "targets": len(scan.answers),
        "target_list": targets[:MAX_TARGETS_NAMED], "answered": answered[:MAX_ANSWERED_NAMED],
        "answered_count": len(answered), "requests": scan.requests,
        # Refused or reported unreachable, and silent: a silence is judged once its reply
        # window has passed before the end of the capture.
        "refused_times_us": [microseconds(t) for t in scan.failed_times(REFUSED)],
        "silent_times_us": [microseconds(t) for t in scan.failed_times(UNANSWERED)],
        "end_time_us": microseconds(end_time),
        "first_time_us": microseconds(scan.first_time),
        "last_time_us": microseconds(scan.last_time),
        "frames": frames[:MAX_SCAN_FRAMES], "frames_total": len(frames),
        "origins": sorted(scan.origins)[:MAX_FOLDED],
        **{answer: tally.get(answer, 0)
           for answer in ("open", "closed", "filtered", "live", "unreachable", "silent")},
    }


def _order(target: str) -> tuple[int, int | str]:
    """Ports and protocol numbers by number, addresses by address, names after them."""
    if target.isdigit():
        return (0, int(target))
    try:
        return (0, int(ipaddress.IPv4Address(target)))
    except ValueError:
        return (1, target)


def define(kb: KnowledgeBase, api: RuleApi) -> None:
    finding = api.finding
    # By the kind of scan: its least failed targets, the window they fall in, how long a
    # silent target is waited for (the thresholds are read by name, so tests can find them).
    limits = _limits(kb)
    windows = {"port": kb.threshold("scan.port", "window_s"),
               "sweep": kb.threshold("scan.sweep", "window_s"),
               "protocol": kb.threshold("scan.protocol", "window_s")}
    reply_windows = {"port": kb.threshold("scan.port", "reply_window_s"),
                     "sweep": kb.threshold("scan.sweep", "reply_window_s")}
    # A sweep's requests per host, at most, by how it probes.
    port_requests = kb.threshold("scan.sweep", "port_max_requests_per_host")
    most_requests = {"arp": kb.threshold("scan.sweep", "arp_max_requests_per_host"),
                     "echo": kb.threshold("scan.sweep", "echo_max_requests_per_host"),
                     "tcp": port_requests, "udp": port_requests}

    @when_all(m.kind == "scan")
    def scan(c):
        s = c.m  # once: each c.m is a fresh wrapper around the fact
        kind = s.type
        due = s.end_time_us - reply_windows.get(kind, 0) * 1_000_000
        failed = sorted([*s.refused_times_us, *(t for t in s.silent_times_us if t <= due)])
        if peak(failed, windows[kind] * 1_000_000) < limits[kind]:
            return  # too few failed attempts within the window: a client, not a scanner
        sweep = kind == "sweep"
        if sweep and s.requests > most_requests[s.method] * s.targets:
            return  # each host asked again and again: a storm, a monitor, a client retrying
        proto = {"echo": "icmp"}.get(s.method, s.method)
        finding(
            c, s.condition, s.key, s.condition, src=s.src,
            dst=list(s.target_list) if sweep else s.dst, reporter=s.src, proto=proto,
            dport=s.port, frames=s.frames, count=s.targets,
            details=_details(s), features={"proto": proto, "dport": s.port},
        )
        for origin in s.origins:  # what the scan accounts for: its probes' own findings
            # An ICMP error's findings are all the probe's; an attempt, echo or ARP query
            # may also underlie findings of other kinds, which stay.
            api.fold(c, FOLDS, origin, None if origin.startswith("error:") else FOLDED)


def _details(s: Any) -> dict[str, Any]:
    answered = ", ".join(s.answered) or "none"
    more = s.answered_count - len(s.answered)
    if more > 0:
        answered += f" and {more} more"
    targets = list(s.target_list)
    method = METHODS[s.method] + (f" to port {s.port}" if s.port >= 0 else "")
    return {
        "method": method, "targets": s.targets, "requests": s.requests,
        "first_s": round(s.first_time_us / 1e6, 3), "last_s": round(s.last_time_us / 1e6, 3),
        "answered": answered, "answered_count": s.answered_count,
        "range": f"{targets[0]} to {targets[-1]}" if targets else "",
        "frames_listed": len(s.frames), "frames_total": s.frames_total,
        **{answer: getattr(s, answer)
           for answer in ("open", "closed", "filtered", "live", "unreachable", "silent")},
    }
