"""Loading and validating the knowledge base: kb/conditions/*.yaml, kb/evidence.yaml, and the
numbers beside them (kb/icmp-types.yaml, kb/icmp6-types.yaml, kb/live.yaml, kb/coverage.yaml)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from netwhy.errors import KnowledgeBaseError
from netwhy.kb.model import (
    Cause,
    CauseEvidence,
    Condition,
    EvidenceTerm,
    IcmpType,
    KnowledgeBase,
    Reference,
    Remedy,
    Threshold,
)

KB_DIR = Path(__file__).parent
# libyaml's parser where PyYAML was built with it: a tenth of the pure-Python parser's time.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_EVIDENCE_SCHEMA = {
    "type": "object",
    "additionalProperties": {
        "type": "object",
        "additionalProperties": False,
        "required": ["weight", "reason"],
        "properties": {"weight": {"type": "number", "minimum": -1, "maximum": 1},
                       "reason": {"type": "string"},
                       "severity": {"enum": ["error", "warning", "note", "chat"]}},
    },
}


_TYPES_SCHEMA = {
    "type": "object",
    "propertyNames": {"pattern": "^[0-9]{1,3}$"},
    "additionalProperties": {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "status"],
        "properties": {"name": {"type": "string"}, "rfc": {"type": "integer"},
                       "status": {"enum": ["current", "deprecated", "experimental"]}},
    },
}


def _numbers_schema(names: tuple[str, ...], maximum: float | None = None) -> dict[str, Any]:
    """A file of named numbers, exactly `names`, each above 0 (and at most `maximum`) with
    its reason."""
    value: dict[str, Any] = {"type": "number", "exclusiveMinimum": 0}
    if maximum is not None:
        value["maximum"] = maximum
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(names),
        "patternProperties": {"": {
            "type": "object",
            "additionalProperties": False,
            "required": ["value", "reason"],
            "properties": {"value": value, "reason": {"type": "string", "minLength": 20}},
        }},
        "properties": {name: {} for name in names},
    }


_LIVE_SCHEMA = _numbers_schema((
    "history_s", "max_facts", "judge_every_s", "repeat_after_s", "max_arp_facts", "settle_s",
    "behind_s", "capture_buffer_mb", "drain_s", "arp_per_sender_per_s", "arp_bulk_per_s",
    "arp_watched_per_s", "watched_hosts"))
_COVERAGE_SCHEMA = _numbers_schema(("other_min_share",), maximum=1)  # shares of the packets


@cache
def load_knowledge_base(directory: Path = KB_DIR) -> KnowledgeBase:
    schema = json.loads((directory / "schema.json").read_text())
    conditions: dict[str, Condition] = {}
    for path in sorted((directory / "conditions").glob("*.yaml")):
        document = _validated(path, schema)
        if document["id"] != path.stem:
            raise KnowledgeBaseError(f"{path}: id {document['id']!r} differs from the file name")
        conditions[document["id"]] = _condition(document, path)
    evidence = {
        name: EvidenceTerm(entry["weight"], entry["reason"], entry.get("severity"))
        for name, entry in _validated(directory / "evidence.yaml", _EVIDENCE_SCHEMA).items()
    }
    icmp_types = {
        int(number): IcmpType(entry["name"], entry["status"], entry.get("rfc"))
        for number, entry in _validated(directory / "icmp-types.yaml", _TYPES_SCHEMA).items()
    }
    icmp6_types = {
        int(number): IcmpType(entry["name"], entry["status"], entry.get("rfc"))
        for number, entry in _validated(directory / "icmp6-types.yaml", _TYPES_SCHEMA).items()
    }
    live = _numbers(directory / "live.yaml", _LIVE_SCHEMA)
    coverage = _numbers(directory / "coverage.yaml", _COVERAGE_SCHEMA)
    _check_references(conditions)
    return KnowledgeBase(conditions=conditions, evidence=evidence, icmp_types=icmp_types,
                         icmp6_types=icmp6_types, live=live, coverage=coverage)


def _numbers(path: Path, schema: dict[str, Any]) -> dict[str, Threshold]:
    return {name: Threshold(entry["value"], entry["reason"])
            for name, entry in _validated(path, schema).items()}


def _validated(path: Path, schema: dict[str, Any]) -> Any:
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except (OSError, yaml.YAMLError) as error:
        raise KnowledgeBaseError(f"{path}: cannot read: {error}") from error
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is not None:
        where = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path
        )
        raise KnowledgeBaseError(f"{path}: {where.lstrip('.') or 'top level'}: {error.message}")
    return document


def _condition(document: dict[str, Any], path: Path) -> Condition:
    match = document.get("match", {})
    causes = tuple(
        Cause(
            id=cause["id"],
            text=cause["text"],
            prior=cause["prior"],
            checks=tuple(cause["checks"]),
            when=tuple(
                CauseEvidence(
                    feature=rule["feature"],
                    factor=rule["factor"],
                    reason=rule["reason"],
                    equals=rule.get("equals"),
                    one_of=tuple(rule["in"]) if "in" in rule else None,
                    at_least=rule.get("at_least"),
                )
                for rule in cause.get("when", [])
            ),
        )
        for cause in document["causes"]
    )
    cause_ids = {cause.id for cause in causes}
    if len(cause_ids) != len(causes):
        raise KnowledgeBaseError(f"{path}: causes: two causes share an id")
    for index, item in enumerate(document["remedies"]):
        unknown = set(item["causes"]) - cause_ids if isinstance(item, dict) else set()
        if unknown:
            raise KnowledgeBaseError(
                f"{path}: remedies[{index}].causes: no cause named {sorted(unknown)[0]!r}"
            )
    return Condition(
        id=document["id"],
        title=document["title"],
        status=document["status"],
        severity=document["severity"],
        group=document["group"],
        summary=document["summary"],
        scope=document["scope"],
        sender=document["sender"],
        meaning=" ".join(document["meaning"].split()),
        causes=causes,
        remedies=tuple(
            Remedy(item) if isinstance(item, str) else Remedy(item["text"], tuple(item["causes"]))
            for item in document["remedies"]
        ),
        falsepositives=tuple(document["falsepositives"]),
        references=tuple(
            Reference(rfc=ref["rfc"], note=ref["note"], section=ref.get("section"))
            for ref in document["references"]
        ),
        base_score=document["score"]["base"],
        base_reason=document["score"].get("base_reason", ""),
        symptoms=tuple(document["symptoms"]),
        icmp_type=match.get("icmp_type"),
        icmp_code=match.get("icmp_code"),
        icmp_family=match.get("family", 4),
        proves=tuple(document.get("proves", [])),
        related=tuple(document.get("related", [])),
        thresholds={
            name: Threshold(
                value=tuple(entry["value"]) if isinstance(entry["value"], list)
                else entry["value"],
                reason=entry["reason"],
            )
            for name, entry in document.get("thresholds", {}).items()
        },
        scenario=document.get("scenario"),
        source=str(path),
    )


def _check_references(conditions: dict[str, Condition]) -> None:
    seen: dict[tuple[int, int, int | None], str] = {}
    for condition in conditions.values():
        for other in condition.related:
            if other not in conditions:
                raise KnowledgeBaseError(
                    f"{condition.source}: related: unknown condition {other!r}"
                )
        if condition.icmp_type is not None:
            key = (condition.icmp_family, condition.icmp_type, condition.icmp_code)
            if key in seen:
                family = "ICMP" if key[0] == 4 else "ICMPv6"
                raise KnowledgeBaseError(f"{condition.source}: match: {family} {key[1:]} is "
                                         f"already covered by {seen[key]}")
            seen[key] = condition.id
