"""The layers import one way (docs/architecture.rst): capture -> dissect -> observations ->
engine -> findings -> diagnoses -> report -> renderers. Each check imports in a fresh
interpreter, so what the test run loaded before cannot hide an import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

RENDERERS = [
    "netwhy.expert.report",
    "netwhy.render.annotate",
    "netwhy.render.json_report",
    "netwhy.render.pcapng_comments",
    "netwhy.render.summary",
    "netwhy.render.terminal",
    "netwhy.render.why",
    "netwhy.site.report",
]


def loaded_after(module: str) -> list[str]:
    """The modules of netwhy and pyshark that importing `module` alone loads."""
    code = (f"import json, sys, {module}; "
            "print(json.dumps(sorted(n for n in sys.modules "
            "if n.split('.')[0] in ('netwhy', 'pyshark'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if result.returncode:  # pytest.fail, not assert: the xfail above must not swallow it
        pytest.fail(f"importing {module} failed:\n{result.stderr}")
    return json.loads(result.stdout)


@pytest.mark.parametrize("module", RENDERERS)
def test_reports_and_renderers_know_nothing_of_dissection(module: str) -> None:
    below = [n for n in loaded_after(module)
             if n.startswith("netwhy.dissect") or n.split(".")[0] == "pyshark"]
    assert below == [], f"{module} loads {below}"


def test_errors_import_no_layer() -> None:
    """dissect/ and kb/ raise netwhy's errors, so the errors may import no layer at all."""
    layers = ("netwhy.render", "netwhy.expert", "netwhy.dissect", "netwhy.kb", "netwhy.site")
    assert [n for n in loaded_after("netwhy.errors") if n.startswith(layers)] == []
