"""The rules engine's session life cycle, around durable-rules' own quirks."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from netwhy.dissect import icmp
from netwhy.dissect.capture import CaptureReader
from netwhy.expert import engine
from netwhy.expert.analyze import analyze, diagnose
from netwhy.expert.observations import observe
from netwhy.kb import load_knowledge_base

CAPTURES = Path(__file__).parent / "captures"

# In a child process: durable-rules' bugs show as a crash, which must fail one test, not end
# the suite.
SESSION_WITHOUT_FINDINGS = """
from netwhy.expert.engine import rules_engine
from netwhy.kb import load_knowledge_base
run_rules = rules_engine(load_knowledge_base()).run
for _ in range(20):  # each session is deleted; the heap must survive every one of them
    assert run_rules([{"kind": "nothing-tests-this", "key": "k"}, {"kind": "attempt"}]) == []
print("ok")
"""


def test_a_session_no_rule_fires_in_is_deleted_cleanly() -> None:
    # durable-rules 2.0.28 frees a session's uninitialised action context on delete_state
    # unless some action ran in it (engine.py's end rule); facts no rule tests are refused.
    result = subprocess.run([sys.executable, "-c", SESSION_WITHOUT_FINDINGS],
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout.strip()) == (0, "ok"), result.stderr[-2000:]


ACTIONS_ON_THE_CALLERS_THREAD = """
import threading
from netwhy.expert.engine import rules_engine
from netwhy.kb import load_knowledge_base
from test_engine import _error
run_rules = rules_engine(load_knowledge_base()).run
concluded = run_rules([_error(n, 3, 3) for n in range(1, 2001)])
assert sum(f["kind"] == "finding" for f in concluded) == 2000
print(len(threading.enumerate()))
"""


def test_the_engine_runs_every_action_on_the_callers_thread() -> None:
    # durable.lang's host polls for pending actions from two threads of its own; one ran an
    # action while the analysis deleted its session (a segfault). netwhy's host starts none.
    result = subprocess.run([sys.executable, "-c", ACTIONS_ON_THE_CALLERS_THREAD],
                            capture_output=True, text=True, timeout=60, cwd=Path(__file__).parent)
    assert (result.returncode, result.stdout.strip()) == (0, "1"), result.stderr[-2000:]


def test_an_error_code_no_entry_covers_is_reported_as_unknown() -> None:
    # The rule's pattern is made from the knowledge base: Destination Unreachable code 16 has
    # no entry, code 3 (port unreachable) has one.
    concluded = run_rules([_error(1, 3, 16), _error(2, 3, 3)])
    found = {(f["origin"], f["condition"]) for f in concluded if f["kind"] == "finding"}
    assert found == {("error:1", "icmp.unknown-type"), ("error:2", "icmp.unreachable.port")}


def run_rules(facts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return engine.rules_engine(load_knowledge_base()).run(facts)


def _error(gid: int, icmp_type: int, code: int) -> dict[str, Any]:
    return {"kind": "error", "key": f"error:{gid}", "gid": gid, "family": 4,
            "error_kind": icmp.ERROR_KINDS[icmp_type], "type": icmp_type, "code": code,
            "sender": "192.0.2.20", "sender_mac": "", "receiver": "192.0.2.10",
            "q_proto": "udp", "q_src": "192.0.2.10", "q_dst": "192.0.2.20", "q_dport": 9999,
            "q_sport": 40000, "q_ttl": 64, "q_icmp_type": -1, "origin_ttl": -1, "count": 1,
            "frames": [gid], "first_time_us": gid, "span_us": 0, "mtu": -1, "df": False,
            "gateway": "", "pointer": -1}


def test_rule_actions_leave_no_garbage_cycles() -> None:
    # setup.sh's durable-rules build deletes a helper that refers to itself in every action:
    # an action's context then goes when the action ends, not at the collector's next pass
    # (a sixth of the rules' time on a busy capture).
    kb = load_knowledge_base()
    seen = observe(CaptureReader(CAPTURES / "host-down-behind-router.pcapng").facts(),
                   arp_window_s=kb.threshold("arp.storm", "window_s"))
    gc.collect()
    gc.disable()
    try:
        diagnoses = diagnose(seen, kb)
        garbage = gc.collect()
    finally:
        gc.enable()
    assert [d.condition for d in diagnoses] == ["icmp.unreachable.host"]
    assert garbage == 0


def test_every_fact_fits_the_engine_build(monkeypatch: pytest.MonkeyPatch) -> None:
    # setup.sh builds durable-rules with room for 64 properties per fact (it refuses a fact
    # with more, as an error): netwhy's facts, from every kind of capture here, stay well under.
    largest: dict[str, int] = {}

    run = engine.Engine.run

    def measuring(self: engine.Engine, facts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        concluded = run(self, facts)
        asserted = [f for f in concluded if f["kind"] == "finding"]  # the most a rule asserts
        for fact in [*facts, *asserted]:
            largest[fact["kind"]] = max(largest.get(fact["kind"], 0), _properties(fact))
        return concluded

    monkeypatch.setattr(engine.Engine, "run", measuring)
    for capture in sorted(CAPTURES.glob("*.pcapng")):
        analyze(capture)
    assert {"error", "service", "echo", "attempt", "arp_query", "finding"} <= set(largest)
    # + sid, id and salt, which the engine adds
    assert max(largest.values()) + 3 <= ENGINE_PROPERTIES // 2, largest


ENGINE_PROPERTIES = 64


def _properties(fact: dict[str, Any]) -> int:
    """Properties as durable-rules counts them: a nested object is one, plus its own."""
    return sum(1 + (_properties(value) if isinstance(value, dict) else 0)
               for value in fact.values())


def test_engine_json_is_orjson_with_json_for_what_it_refuses() -> None:
    """durable-rules' Python layer writes facts through netwhy's codec: orjson's text reads
    back as the same values, and a value orjson refuses still gets through."""
    import durable.engine

    codec = durable.engine.json
    assert codec is engine._OrjsonCodec
    fact = {"kind": "error", "frames": [1, 2], "rtt": 0.25, "text": "café", 7: "int key"}
    assert codec.loads(codec.dumps(fact, ensure_ascii=False)) == {
        "kind": "error", "frames": [1, 2], "rtt": 0.25, "text": "café", "7": "int key"}
    assert codec.loads(codec.dumps({"big": 2**70})) == {"big": 2**70}
