"""Path-MTU black holes, from the TCP segments themselves: a connection whose large segments
never got through while small ones did, and no ICMP error said why (dissect/tcp_segments.py
finds the stalls; these rules weigh them)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from durable.lang import c, m, none, when_all

from netwhy.expert.engine_facts import microseconds
from netwhy.expert.observations import Observations
from netwhy.expert.registry import Rule
from netwhy.expert.rule_api import RuleApi
from netwhy.kb import KnowledgeBase

CONDITION = "tcp.pmtu-blackhole"
RULES = (
    Rule("pmtu-blackhole.sender-side",
         "The same large segment sent again and again, never acknowledged, while smaller ones "
         "were, and no ICMP error about the connection",
         (CONDITION,)),
    Rule("pmtu-blackhole.receiver-side",
         "The sender's sequence numbers ran ahead of everything that arrived, which was all "
         "small, and the bytes between never came",
         (CONDITION,)),
)
SENDER_SIDE, RECEIVER_SIDE = (rule.id for rule in RULES)
FEATURES = {
    "acked_bytes": ("int", "IP length of the largest segment the receiver acknowledged"),
    "offered_mss": ("int", "the larger of the MSS values the two ends offered"),
}
TERMS = (  # evidence terms, weighed in kb/evidence.yaml
    "sender-recovered", "receiver-side-only",
)
# IP and TCP headers without options: an MSS plus this is a full segment.
HEADERS = {4: 40, 6: 60}


def observation_facts(seen: Observations, kb: KnowledgeBase) -> Iterator[dict[str, Any]]:
    """One fact per stalled direction, named by the conversation it belongs to (its client,
    server and port), whichever side sent the data."""
    for index, stall in enumerate(seen.stalls):
        if stall.opened_by_sender:
            client, server, port = stall.src, stall.dst, stall.dport
        else:
            client, server, port = stall.dst, stall.src, stall.sport
        yield {
            "kind": "tcp_stall", "key": f"stall:{index}", "sender": stall.src,
            "receiver": stall.dst, "client": client, "server": server, "port": port,
            "sender_mss": stall.sender_mss, "receiver_mss": stall.receiver_mss,
            "acked": stall.largest_acked, "stalled": stall.stalled, "resends": stall.resends,
            "recovered": stall.recovered, "recovered_size": stall.recovered_size,
            "missing": stall.missing_bytes, "zero_window": stall.zero_window,
            "frames": list(stall.frames), "time_us": microseconds(stall.time),
            # what a full segment from the sender to this receiver is, IP length
            "full_segment": stall.receiver_mss + HEADERS[6 if ":" in stall.src else 4],
        }


def define(kb: KnowledgeBase, api: RuleApi) -> None:
    finding, evidence = api.finding, api.evidence
    min_resends = kb.threshold("tcp.pmtu-blackhole", "min_resends")
    min_stalled = kb.threshold("tcp.pmtu-blackhole", "min_stalled_bytes")
    # Any ICMP error about the connection explains its stall better (frag-needed is the
    # mechanism working; admin-prohibited is a filter), so a black hole is only its absence.
    no_icmp = none((m.kind == "error") & (m.q_proto == "tcp") & (m.q_src == c.stall.sender)
                   & (m.q_dst == c.stall.receiver))

    def conclude(c: Any, rule: str, stalled: int, path: str) -> str:
        stall = c.stall
        return finding(
            c, rule, stall.key, CONDITION, src=stall.client, dst=stall.server,
            reporter=stall.sender, proto="tcp", dport=stall.port, frames=stall.frames,
            count=max(1, stall.resends),
            details={"sender": stall.sender, "ports": f"tcp/{stall.port}",
                     "stalled": f"{stalled} bytes" if stalled else "sizes not seen here",
                     "acked": stall.acked, "path_mtu": path, "resends": stall.resends,
                     "missing_bytes": stall.missing, "recovered": stall.recovered},
            features={"acked_bytes": stall.acked,
                      "offered_mss": max(stall.sender_mss, stall.receiver_mss)},
        )

    # A receiver with a zero window gets only small probes: its silence is flow control.
    @when_all(
        c.stall << (m.kind == "tcp_stall") & (m.resends >= min_resends)
        & (m.stalled >= min_stalled) & (m.stalled > m.acked) & (m.zero_window == False),  # noqa: E712
        no_icmp,
    )
    def sender_side(c):
        stall = c.stall
        floor = max(stall.acked, stall.recovered_size)
        fid = conclude(c, SENDER_SIDE, stall.stalled,
                       f"between {floor} and {stall.stalled - 1} bytes")
        if stall.recovered:
            evidence(c, SENDER_SIDE, fid, "sender-recovered",
                     details={"recovered_size": stall.recovered_size})

    # Seen from the receiver, only what arrived: small segments, then nothing but the
    # sender's later sequence numbers. More than a full segment missing, all that arrived
    # smaller than a full one: the sizes that vanished are unknown, so this ranks lower.
    @when_all(
        c.stall << (m.kind == "tcp_stall") & (m.resends == 0) & (m.missing > m.receiver_mss)
        & (m.acked < m.full_segment) & (m.acked > 0)
        & (m.zero_window == False),  # noqa: E712
        no_icmp,
    )
    def receiver_side(c):
        fid = conclude(c, RECEIVER_SIDE, 0, f"at least {c.stall.acked} bytes")
        evidence(c, RECEIVER_SIDE, fid, "receiver-side-only")
