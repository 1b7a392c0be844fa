"""A diagnosis's evidence frames as a ladder (sequence) diagram, as data: one lane per host,
one arrow per frame in time order, a mark for the reply that never came, and a fold where a
long diagnosis (a sweep, many retries) would otherwise draw thousands of arrows.

It is built from what the report already has: the diagnosis (its subject, reporter and
evidence frames) and the packet-list rows of those frames (netwhy.site.frames). The drawing
(netwhy.site.ladder_svg) and the terminal text (netwhy.render.ladder_text) only read it.
Every string in it came from the capture: each output escapes it.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from netwhy.expert.diagnosis import Diagnosis

# At most this many arrows are drawn: the first ARROWS_HEAD and the last ARROWS_TAIL frames,
# and one fold, which says what it left out, between them.
ARROWS_MAX = 16
ARROWS_HEAD = 12
ARROWS_TAIL = 4
FRAMES_READ = 200  # frames whose rows the fold describes; those after it are only counted
LANES_MAX = 6  # hosts beyond these share one "others" lane
LABEL_MAX = 28  # characters of an arrow's label
BROADCAST = "broadcast"  # the lane of an ARP request's destination: every host on the segment
OTHERS = "others"
FAILURES = ("error", "warning")  # only a failure has a reply that should have come
_AT = " at "  # in a lane's key: an address that ARP shows at several MAC addresses
_ICMP_ERROR = re.compile(r"(Destination unreachable|Time-to-live exceeded|Redirect|"
                         r"Parameter problem|Source quench|Fragment reassembly)")


class FrameLike(Protocol):
    """What the ladder reads of a packet-list row (netwhy.site.frames.FrameRow)."""

    number: int
    time: str
    src: str
    dst: str
    protocol: str
    info: str
    ip_src: str
    ip_dst: str
    arp_op: str
    arp_src: str
    arp_dst: str
    eth_dst: str


@dataclass(frozen=True)
class Lane:
    address: str
    role: str  # client, router, server, target, host, segment


@dataclass(frozen=True)
class Step:
    """One line of the ladder, in time order.

    kind "arrow": frame `frame` at `time` (seconds after the first frame drawn) went from lane
    `src` to lane `dst`. kind "missing": what `src` never sent back to `dst`. kind "fold":
    `count` frames from `frame` to `last` not drawn one by one; `label` says what they were."""

    kind: str
    src: int
    dst: int
    label: str
    frame: int = 0
    time: float = 0.0
    count: int = 0
    last: int = 0


@dataclass(frozen=True)
class Ladder:
    lanes: tuple[Lane, ...]
    steps: tuple[Step, ...]
    frames: int  # evidence frames of the diagnosis, drawn or not
    drawn: int  # of which drawn as arrows

    @property
    def arrows(self) -> tuple[Step, ...]:
        return tuple(step for step in self.steps if step.kind == "arrow")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, item: Mapping[str, Any]) -> Ladder:
        return cls(tuple(Lane(**lane) for lane in item["lanes"]),
                   tuple(Step(**step) for step in item["steps"]), item["frames"], item["drawn"])


def frames_wanted(d: Diagnosis) -> set[int]:
    """The evidence frames whose packet-list rows the ladder of d reads."""
    return {*d.evidence[:FRAMES_READ], *d.evidence[-ARROWS_TAIL:]}


def ladder(d: Diagnosis, rows: Mapping[int, FrameLike]) -> Ladder | None:
    """The ladder of d's evidence frames, or None when no frame of it can be read."""
    known = [rows[n] for n in d.evidence if n in rows]
    if not known:
        return None
    ends = _split_by_mac(known, [_ends(row) for row in known])
    errors = [_is_error(row) for row in known]
    keys, lanes = _lanes(d, ends, {src for (src, _), error in zip(ends, errors, strict=True)
                                   if error})
    index = {key: i for i, key in enumerate(keys)}
    others = index.get(OTHERS, 0)
    t0 = _seconds(known[0].time)
    arrows = [Step("arrow", index.get(src, others), index.get(dst, others), _label(row),
                   frame=row.number, time=round(max(0.0, _seconds(row.time) - t0), 6))
              for row, (src, dst) in zip(known, ends, strict=True)]
    steps = _folded(arrows, d.evidence, lanes)
    missing = _missing(d, arrows, [not error for error in errors], index)
    if missing is not None:
        steps.append(missing)
    return Ladder(tuple(lanes), tuple(steps), len(d.evidence),
                  sum(step.kind == "arrow" for step in steps))


def _ends(row: FrameLike) -> tuple[str, str]:
    """Who sent the frame to whom, at the network layer where there is one."""
    if row.arp_src:
        broadcast = row.arp_op == "1" and row.eth_dst.lower() in ("", "ff:ff:ff:ff:ff:ff")
        return row.arp_src, BROADCAST if broadcast else (row.arp_dst or row.dst)
    if row.ip_src and row.ip_dst:
        return row.ip_src, row.ip_dst
    return row.src, row.dst


def _split_by_mac(rows: Sequence[FrameLike], ends: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """An address that ARP shows at two or more MAC addresses (a duplicate, a spoofer) is
    one lane per MAC: the point of such a ladder is that two stations answer."""
    macs: dict[str, set[str]] = {}
    for row in rows:
        if row.arp_src:
            macs.setdefault(row.arp_src, set()).add(row.src)
    split = {address for address, found in macs.items() if len(found) > 1}
    if not split:
        return ends
    return [(f"{src}{_AT}{row.src}" if row.arp_src and src in split else src, dst)
            for row, (src, dst) in zip(rows, ends, strict=True)]


def _lanes(d: Diagnosis, ends: Sequence[tuple[str, str]],
           reporters: set[str]) -> tuple[list[str], list[Lane]]:
    """The lanes' keys and lanes: client first, then the routers that reported, then the
    destinations, then anyone else, then the segment a broadcast went to."""
    seen = list(dict.fromkeys(address for pair in ends for address in pair))
    roles: dict[str, str] = {d.subject.src: "client"}
    target = "target" if "arp" in d.subject.protos else "server"
    for address in [d.reporter, *seen]:
        reported = address in reporters or address == d.reporter
        if reported and address and address not in roles and address not in d.subject.dsts:
            roles[address] = "router"
    for dst in d.subject.dsts:
        roles.setdefault(dst, target)
    for address in seen:
        if address != BROADCAST:
            roles.setdefault(address, "host")
    split = {key.partition(_AT)[0] for key in seen if _AT in key}
    keys = [key for key, role in roles.items()
            if key in seen or (role in ("client", "server", "target") and key not in split)]
    if len(keys) > LANES_MAX:
        keys = [*keys[:LANES_MAX - 1], OTHERS]
        roles[OTHERS] = "hosts"
    if BROADCAST in seen:
        keys.append(BROADCAST)
        roles[BROADCAST] = "segment"
    lanes = []
    for key in keys:
        address, _, mac = key.partition(_AT)
        lanes.append(Lane(address, f"at {mac}" if mac else roles[key]))
    return keys, lanes


def _folded(arrows: list[Step], evidence: Sequence[int], lanes: Sequence[Lane]) -> list[Step]:
    """All arrows, or the first and last few around one fold that counts the rest."""
    if len(arrows) <= ARROWS_MAX and len(arrows) == len(evidence):
        return list(arrows)
    head = arrows[:ARROWS_HEAD]
    tail = [a for a in arrows[-ARROWS_TAIL:] if a.frame > head[-1].frame]
    drawn = {a.frame for a in head} | {a.frame for a in tail}
    left = [n for n in evidence if n not in drawn]
    hidden = [a for a in arrows if a.frame not in drawn]
    kinds = Counter((a.src, a.dst, re.sub(r"\d+", "N", a.label)) for a in hidden)
    parts = [f"{n} x {label} ({lanes[src].address} -> {lanes[dst].address})"
             for (src, dst, label), n in kinds.most_common(2)]
    if len(kinds) > 2:
        parts.append(f"{sum(kinds.values()) - sum(n for _, n in kinds.most_common(2))} others")
    if len(hidden) < len(left):
        parts.append(f"{len(left) - len(hidden)} more")
    fold = Step("fold", 0, len(lanes) - 1, "; ".join(parts), frame=min(left),
                time=hidden[0].time if hidden else head[-1].time, count=len(left),
                last=max(left))
    return [*head, fold, *tail]


def _missing(d: Diagnosis, arrows: Sequence[Step], asks: Sequence[bool],
             index: Mapping[str, int]) -> Step | None:
    """The reply that did not come: between the client and a destination of a failure, one
    side sent something other than an ICMP error and the other sent nothing back (a router's
    ICMP error about it does not count as an answer)."""
    if d.severity not in FAILURES or d.subject.src not in index:
        return None
    client = index[d.subject.src]
    broadcast = index.get(BROADCAST)
    for dst in d.subject.dsts:
        server = index.get(dst)
        if server is None or server == client or server == index.get(OTHERS):
            continue
        for asker, asked in ((client, server), (server, client)):
            sent = [a for a, ask in zip(arrows, asks, strict=True)
                    if ask and a.src == asker and a.dst in (asked, broadcast)]
            if sent and not any(a.src == asked and a.dst == asker for a in arrows):
                return Step("missing", asked, asker, _silence(d, sent), time=sent[-1].time)
    return None


def _silence(d: Diagnosis, sent: Sequence[Step]) -> str:
    if "arp" in d.subject.protos:
        return "no ARP reply"
    if all("ACK" in a.label and "SYN" not in a.label for a in sent):
        return "no ACK"  # data that was never acknowledged
    return "no reply"


def _is_error(row: FrameLike) -> bool:
    """An ICMP error or advice: its sender is a router (or the destination) reporting."""
    return row.protocol == "ICMP" and _ICMP_ERROR.match(" ".join(row.info.split())) is not None


def _label(row: FrameLike) -> str:
    """A short name for the frame: its TCP flags, its ICMP message, its ARP question."""
    info = " ".join(row.info.split())
    if row.protocol == "TCP":
        flags = re.findall(r"\[([A-Z]{3}(?:, [A-Z]{3})*)\]", info)
        label = flags[-1] if flags else info
        if "Retransmission" in info:
            label += " (again)"
    elif row.protocol == "ICMP":
        found = re.match(r"(?:Destination unreachable|Time-to-live exceeded|Redirect"
                         r"|Parameter problem) \((.+?)\)", info)
        label = found[1] if found else re.sub(r"\(ping\) | id=0x\w+,|, ttl=\d+.*$", "", info)
        label = re.sub(r"seq=(\d+)/\d+", r"seq=\1", label).replace("Time to live", "TTL")
    elif row.protocol == "ARP":
        asked = re.match(r"(Who has \S+\?)", info)
        answer = re.match(r"\S+ is at (\S+)", info)  # the sender's lane has the address
        label = asked[1] if asked else f"is at {answer[1]}" if answer else info
    else:
        ports = re.match(r"(\d+) → (\d+)\b", info)  # UDP: where it went is what matters
        label = f"{row.protocol} to port {ports[2]}" if ports else f"{row.protocol} {info}"
    label = " ".join(label.split())
    return label if len(label) <= LABEL_MAX else label[:LABEL_MAX - 1] + "…"


def _seconds(text: str) -> float:
    with contextlib.suppress(ValueError):
        return float(text)
    return 0.0
