"""The forward-chaining engine: durable-rules, one ruleset, one session per analysis.

durable-rules' engine has no locks, so every call happens on the caller's thread (the host
below starts no threads of its own), and each analysis gets its own session id so that analyses
never see each other's facts.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from typing import Any

import durable.engine
import orjson
from durable.engine import Host
from durable.lang import _rulesets, m, ruleset, when_all

from netwhy.expert.registry import rule_modules
from netwhy.expert.rule_api import RuleApi, assert_distinct
from netwhy.kb import KnowledgeBase

RULESET = "netwhy"
# Asserted after every observation: rules that conclude from an absence ("no reply was ever
# seen") join on it, so that they judge only once the whole capture is in.
END = {"kind": "end", "key": "end"}
_session_ids = itertools.count()


class _OrjsonCodec:
    """What durable-rules' Python layer uses as `json`: it hands every fact and every action's
    state to its C engine as JSON text, and reads the engine's answers back from it, a fifth
    of the rules' time with json's encoder. The same values, written by orjson (a value it
    cannot write, such as an integer beyond 64 bits, goes to json)."""

    @staticmethod
    def dumps(value: Any, **_options: Any) -> str:  # durable asks for ensure_ascii=False
        try:
            return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
        except orjson.JSONEncodeError:
            return json.dumps(value, ensure_ascii=False)

    loads = staticmethod(orjson.loads)


durable.engine.json = _OrjsonCodec


class CallerThreadHost(Host):
    """A durable-rules host that starts no threads. durable.lang's own host polls every ruleset
    from two background threads, every 0.2 s, for pending actions and timers: netwhy has no
    timers and no asynchronous actions, and runs every action inside the assert that
    triggers it. A poll that fell between an assert and its actions ran one of them on the
    poller's thread, alongside the analysis (once, while the analysis deleted the session:
    a segfault)."""

    def _run(self) -> None:
        pass


class Engine:
    """The rules of every module in expert/rules/, defined for one knowledge base."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        modules = rule_modules()
        self.api = RuleApi(modules)
        with ruleset(RULESET):
            for entry in modules:
                entry.module.define(kb, self.api)

            # durable-rules 2.0.28 leaves a session's action context uninitialised until its
            # first action, and delete_state frees it: a session in which no rule fired would
            # free garbage (a crash that comes and goes with the heap's layout). The end fact
            # always fires this.
            @when_all(m.kind == END["kind"])
            def _settle(c):
                pass

        name, definition = _rulesets.pop(RULESET).define()
        # The conditions some rule joins findings on, read from the ruleset itself: findings of
        # other conditions are final, and stay out of the engine (durable-rules costs ~70 µs
        # and a node of 2-9 KB per stored fact; on a busy capture half the findings are of
        # conditions no rule looks at again).
        self.api.joined = frozenset(
            re.findall(r'"condition": "([^"]+)"', json.dumps(definition, default=str)))
        self._host = CallerThreadHost({name: definition})

    def run(self, facts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Assert the facts, let the rules chain, and return what they concluded: findings
        and the evidence attached to them."""
        if not facts:
            return []  # durable-rules only creates a session on its first fact
        host = self._host
        sid = f"{os.getpid()}-{next(_session_ids)}"
        self.api.sessions[sid] = []
        try:
            for fact in [*facts, END]:
                assert_distinct(lambda salted: host.assert_fact(RULESET, salted),
                                {"sid": sid, **fact})
            return self.api.sessions[sid]
        finally:
            host.delete_state(RULESET, sid)
            del self.api.sessions[sid]


_built: list[Engine] = []  # the engine of the last knowledge base asked for


def rules_engine(kb: KnowledgeBase) -> Engine:
    """The engine for this knowledge base, defined once (a fifth of a second) and reused."""
    if not _built or _built[0].kb is not kb:
        _built[:] = [Engine(kb)]
    return _built[0]


__all__ = ["RULESET", "Engine", "rules_engine"]
