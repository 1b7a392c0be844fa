"""Shared helpers: run the installed `netwhy` as a user would, and find the test captures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# Every property test is derandomized (the same examples on every run and machine) and keeps
# no example database: CI must not fail at random. An example a search once found is pinned
# with @example beside its test, so it stays tested whatever the strategy generates.
settings.register_profile("netwhy", derandomize=True, database=None, deadline=None)
settings.load_profile("netwhy")

CAPTURES = Path(__file__).parent / "captures"
PUBLIC = CAPTURES / "public"
NETWHY = Path(sys.executable).parent / "netwhy"


def run_netwhy(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(NETWHY), *arguments], capture_output=True, text=True, timeout=120,
        env={**os.environ, **(env or {})},
    )


def explain_json(capture: Path, *arguments: str) -> dict[str, Any]:
    result = run_netwhy("explain", str(capture), "--json", *arguments)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def capture_dir() -> Path:
    return CAPTURES
