"""Observations as the rules engine takes them: plain JSON-able dicts, one per fact.

Observations enter as kinds `service`, `error` (ICMP and ICMPv6: `family`, and `error_kind`
in words both share), `echo`, `icmp_query`, `icmp_unknown`,
`loop_sighting`, `attempt`, `arp_query`, `arp_claim`, `arp_responder`, `arp_spoof` (weighed in
arp_spoofing.py), `arp_announcement` and `arp_asker`; a rule module may add kinds of its own
(`observation_facts` in its module).
Numbers are integers only: durable-rules' JSON parser has trouble with some floats, so times
are microseconds. This module only translates; what the facts mean is for the rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from netwhy.expert.addresses import (
    is_multicast_or_broadcast,
    is_sweep,
    same_subnet,
    shared_prefix,
)
from netwhy.expert.arp_observations import ArpObservations
from netwhy.expert.arp_spoofing import Segment, spoof_facts, taken_over
from netwhy.expert.link_use import LinkUse
from netwhy.expert.observations import ECHO_PROTOS, ErrorGroup, Observations, ServiceAttempts

# Facts handed to the engine per kind, most telling first; past these a note says so. The
# engine costs kilobytes per fact, and a scan would otherwise cost gigabytes.
MAX_ECHO_FACTS = 10_000
MAX_ATTEMPT_FACTS = 10_000


def microseconds(seconds: float) -> int:
    return round(seconds * 1_000_000)


def error_fact(group: ErrorGroup) -> dict[str, Any]:
    return {
        "kind": "error", "key": f"error:{group.gid}",
        "gid": group.gid, "family": group.family, "error_kind": group.kind,
        "type": group.type, "code": group.code,
        "sender": group.sender, "sender_mac": group.sender_mac, "receiver": group.receiver,
        "q_proto": group.proto, "q_src": group.q_src, "q_dst": group.q_dst,
        "q_dport": group.q_dport,
        "q_sport": next(iter(group.sports)) if len(group.sports) == 1 else -1,
        "q_ttl": -1 if group.quoted_ttl is None else group.quoted_ttl,
        "q_icmp_type": group.quoted_icmp_type, "origin_ttl": group.origin_ttl,
        "count": group.count, "frames": list(group.frames),
        "first_time_us": microseconds(group.first_time),
        "span_us": microseconds(group.last_time - group.first_time),
        "mtu": min(group.mtus) if group.mtus else -1, "df": bool(group.df),
        "gateway": sorted(group.gateways)[0] if group.gateways else "",
        "pointer": group.pointer,
    }


def service_fact(service: ServiceAttempts) -> dict[str, Any]:
    return {
        "kind": "service", "cid": service.cid, "proto": service.proto, "src": service.src,
        "dst": service.dst, "dport": service.dport, "attempts": service.attempts,
        "replies": service.replies, "refused": service.refused,
        "first_time_us": microseconds(service.first_time or 0.0),
        # -1: never answered; durable-rules compares numbers, not nulls.
        "first_reply_time_us": -1 if service.first_reply_time is None
        else microseconds(service.first_reply_time),
    }


def echo_fact(
    service: ServiceAttempts, answered_by: dict[str, set[str]], answerers: dict[str, int],
    end_time: float,
) -> dict[str, Any]:
    rtt = service.rtt_total / service.rtt_count if service.rtt_count else -1
    # Other hosts that answered this same client: its own stack and first hop work.
    others = answerers.get(service.src, 0) - (service.src in answered_by.get(service.dst, ()))
    return {
        "kind": "echo", "key": f"echo:{service.cid}", "proto": service.proto,
        "cid": service.cid, "src": service.src, "dst": service.dst,
        "requests": service.attempts, "replies": service.replies,
        "rtt_us": microseconds(rtt) if rtt >= 0 else -1, "others_answered": others,
        "first_time_us": microseconds(service.first_time or 0.0),
        "end_time_us": microseconds(end_time),
        "request_frames": list(service.request_frames), "reply_frames": list(service.reply_frames),
    }


def observation_facts(seen: Observations) -> Iterator[dict[str, Any]]:
    """Everything but services and errors, which `diagnose` asserts first."""
    answered_by = seen.answering_hosts()
    echoes = [s for key, s in seen.services.items() if key[0] in ECHO_PROTOS]
    echoes = sorted(echoes, key=lambda service: -service.attempts)[:MAX_ECHO_FACTS]
    answerers: dict[str, int] = {}  # client -> how many hosts answered it
    for clients in answered_by.values():
        for client in clients:
            answerers[client] = answerers.get(client, 0) + 1
    yield from (echo_fact(service, answered_by, answerers, seen.end_time) for service in echoes)
    for index, query in enumerate(seen.queries.values()):
        yield {
            "kind": "icmp_query", "key": f"query:{index}",
            "query": query.kind, "src": query.src,
            "requests": query.requests, "replies": query.replies, "frames": list(query.frames),
            "targets": sorted(query.targets),
            # Parallel lists, not a dict: durable-rules reads dotted keys (addresses) as paths.
            "responders": sorted(query.masks),
            "masks": [query.masks[r] for r in sorted(query.masks)],
        }
    for index, message in enumerate(seen.unknown.values()):
        yield {
            "kind": "icmp_unknown", "key": f"unknown:{index}", "family": message.family,
            "type": message.type, "code": message.code,
            "src": message.src, "dst": message.dst, "count": message.count,
            "frames": list(message.frames),
        }
    for index, loop in enumerate(seen.loops.values()):
        yield {
            "kind": "loop_sighting", "key": f"loop:{index}",
            "family": 6 if ":" in loop.src else 4, "src": loop.src, "dst": loop.dst,
            "proto": loop.proto, "passes": len(loop.ttls), "first_ttl": loop.ttls[0],
            "last_ttl": loop.ttls[-1], "frames": list(loop.frames),
        }
    yield from attempt_facts(seen, answered_by)
    yield from arp_facts(seen.arp, answered_by, seen.end_time, seen.links)


def attempt_facts(
    seen: Observations, answered_by: dict[str, set[str]]
) -> Iterator[dict[str, Any]]:
    """TCP and UDP attempts that got no reply (refused, answered by ICMP, or silent), with
    what the rest of the capture says about both ends."""
    clients_answered = set().union(*answered_by.values()) if answered_by else set()
    # Stations the capture shows receiving anything: a reply, an ARP answer, an ICMP error. A
    # client missing here may sit behind a capture point that sees one direction only.
    receiving = clients_answered | {error.receiver for error in seen.errors.values()}
    receiving |= {query.asker_ip for query in seen.arp.queries.values() if query.replies}
    resolved: dict[str, bool] = {}  # ARP target -> whether anyone got its address
    for query in seen.arp.queries.values():
        answered = bool(query.replies) or query.target_ip in seen.arp.claims
        resolved[query.target_ip] = resolved.get(query.target_ip, False) or answered
    unanswered = [s for s in seen.services.values()
                  if s.proto not in ECHO_PROTOS and not s.replies]
    unanswered.sort(key=lambda service: -service.attempts)
    for service in unanswered[:MAX_ATTEMPT_FACTS]:
        answerers = answered_by.get(service.dst, set())
        yield {
            "kind": "attempt", "key": f"attempt:{service.cid}", "cid": service.cid,
            "proto": service.proto, "src": service.src, "dst": service.dst,
            "dport": service.dport, "attempts": service.attempts, "refused": service.refused,
            "request_frames": list(service.request_frames),
            "reply_frames": list(service.reply_frames),
            "first_time_us": microseconds(service.first_time or 0.0),
            "end_time_us": microseconds(seen.end_time),
            "dst_answers_client": service.src in answerers,
            "dst_answers_others": bool(answerers - {service.src}),
            "client_gets_replies": service.src in clients_answered,
            "client_receives": service.src in receiving,
            "arp_answered": resolved.get(service.dst) is True,
            "arp_unanswered": resolved.get(service.dst) is False,
            "multicast": is_multicast_or_broadcast(service.dst),
        }


def arp_facts(
    arp: ArpObservations, answered_by: dict[str, set[str]], end_time: float,
    links: LinkUse | None = None,
) -> Iterator[dict[str, Any]]:
    segment = Segment(arp, links or LinkUse())
    for index, query in enumerate(arp.queries.values()):
        yield {
            "kind": "arp_query", "key": f"arpq:{index}",
            "asker_ip": query.asker_ip,
            "asker_mac": query.asker_mac, "target": query.target_ip,
            "requests": query.requests, "replies": query.replies,
            "request_frames": list(query.request_frames), "reply_frames": list(query.reply_frames),
            "answered_by": sorted(query.answer_macs),
            "asker_answered": query.asker_ip in arp.askers_answered,
            "target_seen": query.target_ip in arp.claims,
            # The target answers other clients: it exists, reached through some router.
            "target_answers_others": bool(answered_by.get(query.target_ip, set())
                                          - {query.asker_ip}),
            "first_time_us": microseconds(query.first_time),
            "last_time_us": microseconds(query.last_time),
            "end_time_us": microseconds(end_time),
            "off_subnet": not same_subnet(query.asker_ip, query.target_ip),
            "shared_prefix": shared_prefix(query.asker_ip, query.target_ip),
        }
    for claim in arp.claims.values():
        if len(claim.macs) > 1:
            yield {
                "kind": "arp_claim", "key": f"claim:{claim.ip}",
                "ip": claim.ip, "macs": sorted(claim.macs),
                "interleaved": claim.interleaved, "takeover": taken_over(claim, segment),
                "frames": sorted({f for frames in claim.macs.values() for f in frames}),
            }
    for mac, foreign in arp.answered_off_subnet.items():
        own = arp.answered_on_subnet.get(mac, set()) | arp.own_ips.get(mac, set())
        only_foreign = sorted(foreign - own)
        yield {
            "kind": "arp_responder", "key": f"responder:{mac}",
            "mac": mac, "foreign": only_foreign, "foreign_ips": len(only_foreign),
            "own": sorted(own),
            "frames": list(arp.answer_frames.get(mac, [])),
            "shared_prefix": arp.answered_prefix.get(mac, 32),
        }
    yield from spoof_facts(segment)
    for index, note in enumerate(arp.announcements.values()):
        yield {
            "kind": "arp_announcement", "key": f"announce:{index}",
            "ip": note.ip, "mac": note.mac,
            "probe": note.probe, "count": note.count, "frames": list(note.frames),
        }
    for asker in arp.askers.values():
        yield {
            "kind": "arp_asker", "key": f"asker:{asker.mac}",
            "mac": asker.mac, "ip": asker.ip, "requests": asker.requests,
            "peak": asker.peak, "distinct": len(asker.targets), "more": asker.more_targets,
            "sequential": is_sweep(asker.targets), "frames": list(asker.frames),
        }
