"""Shared helpers: run the installed `netwhy` as a user would, and find the test captures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

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
