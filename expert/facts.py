"""How observations and conclusions look inside the rules engine (plain JSON-able dicts).

Kinds: `error` and `service` come from observations; rules assert `finding` (an error matched to
a knowledge-base condition) and `evidence` (a score term or features attached to a finding).
"""

from __future__ import annotations

from typing import Any

from netwhy.expert.observations import ErrorGroup, ServiceAttempts


def error_fact(group: ErrorGroup) -> dict[str, Any]:
    return {
        "kind": "error", "gid": group.gid, "type": group.type, "code": group.code,
        "sender": group.sender, "receiver": group.receiver, "q_proto": group.proto,
        "q_src": group.q_src, "q_dst": group.q_dst, "q_dport": group.q_dport,
        "q_sport": next(iter(group.sports)) if len(group.sports) == 1 else -1,
        "count": group.count, "first_time_us": _microseconds(group.first_time),
        "mtu": min(group.mtus) if group.mtus else -1, "df": bool(group.df),
    }


def service_fact(service: ServiceAttempts) -> dict[str, Any]:
    return {
        "kind": "service", "cid": service.cid, "proto": service.proto, "src": service.src,
        "dst": service.dst, "dport": service.dport, "attempts": service.attempts,
        "replies": service.replies, "refused": service.refused,
        # -1: never answered; durable-rules compares numbers, not nulls.
        "first_reply_time_us": -1 if service.first_reply_time is None
        else _microseconds(service.first_reply_time),
    }


def _microseconds(seconds: float) -> int:
    # Integers only: durable-rules' JSON parser rejects exponents such as 2e-05.
    return round(seconds * 1_000_000)


def evidence(
    c: Any,
    rule: str,
    fid: int,
    term: str = "",
    features: dict[str, Any] | None = None,
    frames: list[int] | None = None,
    cid: int = -1,
) -> None:
    """Assert one piece of evidence about a finding, from inside a rule's action."""
    c.assert_fact({
        "kind": "evidence", "eid": f"{fid}/{rule}/{term}", "fid": fid, "rule": rule,
        "term": term, "features": features or {}, "frames": frames or [], "cid": cid,
    })
