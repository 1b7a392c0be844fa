"""Sphinx configuration: `sphinx-build docs OUT` or `netwhy docs build OUT`.

The knowledge-base pages (kb/) are generated at build time by _ext/netwhy_kb.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

from netwhy import __version__
from netwhy.site.theme import html_settings

project = "netwhy"
author = "the netwhy authors"
copyright = "the netwhy authors, BSD-3-Clause"
version = release = __version__
extensions = ["netwhy_kb"]
exclude_patterns = ["_build"]
templates_path: list[str] = []
highlight_language = "none"
nitpicky = True  # a broken cross-reference is a warning, and warnings fail the build
globals().update(html_settings("netwhy"))
