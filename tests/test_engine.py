"""The rules engine's session life cycle, around durable-rules' own quirks."""

from __future__ import annotations

import subprocess
import sys

# In a child process: durable-rules' bugs show as a crash, which must fail one test, not end
# the suite.
SESSION_WITHOUT_FINDINGS = """
from netwhy.expert.engine import run_rules
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
